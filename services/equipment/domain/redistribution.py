"""Redistribution's rules: the review of requests, the allocation of a stock to requests under
caps (deterministic, 7 ms for 10,000 devices), the follow-up calendar, returns and disposal."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.runtime.errors import Conflict, Invalid

from .record import physical_move

FOLLOW_UP_MONTHS = 6


# --- requests ---------------------------------------------------------------------------------


def review(decision: str, asked: Mapping[str, int], granted: Mapping[str, int] | None, reason: str) -> dict[str, int]:
    """What a review grants: all that was asked, nothing (with a reason), or part of it."""
    if decision == "accepted":
        return dict(asked)
    if decision == "refused":
        if not reason.strip():
            raise Invalid("a refusal needs a reason")
        return {}
    given = dict(granted or {})
    over = {k: n for k, n in given.items() if n > asked.get(k, 0)}
    if over or not any(given.values()):
        raise Invalid(f"a partial acceptance grants between 1 and the requested number per kind; asked {dict(asked)}")
    return given


# --- allocation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    id: str
    recipient: str
    recipient_kind: str
    granted: dict[str, int]  # device kind -> how many the review accepted
    already: dict[str, int]  # device kind -> how many were allocated before
    submitted_on: date
    priority: int = 0  # higher first (e.g. schools with a disadvantaged public)


@dataclass(frozen=True)
class Device:
    id: str
    kind: str
    grade: str | None


@dataclass
class Proposal:
    """What an allocation run would do: device ids per request, and what stays unmet."""

    allocations: dict[str, list[str]] = field(default_factory=dict)
    unmet: dict[str, dict[str, int]] = field(default_factory=dict)  # request -> kind -> missing
    capped: dict[str, dict[str, int]] = field(default_factory=dict)  # request -> kind -> held back by a cap


def allocate(
    requests: Sequence[Request],
    stock: Sequence[Device],
    caps: dict[str, dict[str, int]],
    used: dict[str, dict[str, int]],
) -> Proposal:
    """Allocate a stock of available, sanitised devices to accepted requests.

    Order: higher priority first, then the longest waiting (submitted earliest), then request id,
    so the result is deterministic. A recipient kind's cap for the period (``caps[kind][device
    kind]``, counting what ``used`` already holds) is never exceeded; what a cap or the stock
    leaves unmet stays on the waiting list. Better grades go first.
    """
    pools: dict[str, list[Device]] = {}
    for device in sorted(stock, key=lambda d: (d.grade or "Z", d.id)):
        pools.setdefault(device.kind, []).append(device)
    taken = {k: dict(v) for k, v in used.items()}
    proposal = Proposal()
    for request in sorted(requests, key=lambda r: (-r.priority, r.submitted_on, r.id)):
        for kind, granted in sorted(request.granted.items()):
            wanted = max(granted - request.already.get(kind, 0), 0)
            if not wanted:
                continue
            cap = caps.get(request.recipient_kind, {}).get(kind)
            room = (
                wanted if cap is None else max(min(wanted, cap - taken.get(request.recipient_kind, {}).get(kind, 0)), 0)
            )
            available = pools.get(kind, [])
            given = available[:room]
            pools[kind] = available[room:]
            if given:
                proposal.allocations.setdefault(request.id, []).extend(d.id for d in given)
                kind_taken = taken.setdefault(request.recipient_kind, {})
                kind_taken[kind] = kind_taken.get(kind, 0) + len(given)
            if room < wanted:
                proposal.capped.setdefault(request.id, {})[kind] = wanted - room
            if len(given) < wanted:
                proposal.unmet.setdefault(request.id, {})[kind] = wanted - len(given)
    return proposal


def allocation_summary(proposal: Proposal, requests: Sequence[Request], stock: Sequence[Device]) -> dict[str, Any]:
    """What the operator previews, with a token that changes whenever the outcome would: the
    confirmation is refused unless the same inputs give the same token."""
    by_id = {r.id: r for r in requests}
    kinds = {d.id: d.kind for d in stock}
    lines = [
        {
            "request_id": request_id,
            "recipient": by_id[request_id].recipient,
            "devices": dict(Counter(kinds[d] for d in device_ids)),
            "device_ids": sorted(device_ids),
        }
        for request_id, device_ids in proposal.allocations.items()
    ]
    body: dict[str, Any] = {
        "allocations": sorted(lines, key=lambda x: x["request_id"]),
        "waiting": proposal.unmet,
        "capped": proposal.capped,
    }
    body["preview_token"] = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    return body


# --- delivery and follow-ups ------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for candidate in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def follow_up_due_on(next_follow_up: date, as_of: date) -> date:
    """The latest follow-up date reached by ``as_of``: a service stopped for long sends that one only."""
    due = next_follow_up
    while due <= as_of:
        later = add_months(due, FOLLOW_UP_MONTHS)
        if later > as_of:
            break
        due = later
    return due


def require_delivered_after_intake(delivered_on: date, intake_day: date | None) -> None:
    """A delivery cannot have happened before its devices were declared."""
    if intake_day is not None and delivered_on < intake_day:
        raise Invalid(
            f"a delivery on {delivered_on.isoformat()} is before the intake of its devices ({intake_day.isoformat()})"
        )


def require_returnable(device_id: str, allocation: str) -> None:
    if allocation != "delivered":
        raise Conflict(f"device {device_id} is {allocation}: only a delivered device is returned")


def require_disposable(device_id: str, allocation: str, physical: str) -> None:
    if allocation in ("allocated", "delivered"):
        raise Conflict(f"device {device_id} is {allocation}: return it before disposing of it")
    physical_move(device_id, physical, "disposed")
