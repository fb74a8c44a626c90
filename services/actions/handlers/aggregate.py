"""The action as an aggregate: lock it before writing to it, and record each of its events both
in the outbox and in its history."""

from __future__ import annotations

from typing import Any

from passerelle_contracts import Envelope

from services.runtime.errors import NotFound
from services.runtime.uow import Context, UnitOfWork

from .. import events
from ..domain import ActionState
from ..sql import ActionsRepository

Uow = UnitOfWork[ActionsRepository]


async def locked_action(uow: Uow, number: int) -> ActionState:
    """The action, locked until the transaction ends: writes to one action serialise, so its events
    reach the outbox (and the topic) in the order they happened."""
    state = await uow.repo.lock_action(number)
    if state is None:
        raise NotFound(f"no action {number}; the plan has actions 1 to 66")
    return state


# An event's history row, to write: (action number, envelope, changes).
History = tuple[int, Envelope, list[dict[str, Any]]]


async def record(
    uow: Uow, event: events.ActionEvent, *, changes: list[dict[str, Any]] | None = None, context: Context | None = None
) -> Envelope:
    """Emit an event about one action and append it to the action's history, in the caller's transaction.

    Every event about an action goes through here (or ``record_deferred``): the history
    (``action_history``) is what "what changed since" and the annual report read, so an event
    that skipped it would be published yet missing from the report. ``changes`` defaults to the
    event's own."""
    entry = record_deferred(uow, event, changes=changes, context=context)
    await uow.repo.add_history(*entry)
    return entry[1]


def record_deferred(
    uow: Uow, event: events.ActionEvent, *, changes: list[dict[str, Any]] | None = None, context: Context | None = None
) -> History:
    """``record`` with the history row returned instead of written: a set-wise handler writes its
    events' rows with one ``uow.repo.add_history_many`` before its transaction ends."""
    envelope = uow.emit(event, events.subject(event.action_number), context=context)
    recorded = envelope.data.get("changes", []) if changes is None else changes
    return event.action_number, envelope, recorded
