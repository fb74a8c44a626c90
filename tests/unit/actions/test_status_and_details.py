"""Changing an action's status and details: who may, what is refused, what is published."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from services.actions.domain import InvalidTransition
from services.actions.handlers.actions import ChangeDetails, ChangeStatus, change_details, change_status
from services.runtime.errors import Conflict, Forbidden, NotFound

from .conftest import BRUXELLES_FORMATION, CABAN, COORDINATION, Store, acting


async def test_a_status_change_is_published_with_its_changes_who_and_which_flow(store: Store) -> None:
    correlation = uuid.uuid4()
    envelope = await change_status(
        acting(store, COORDINATION, correlation), ChangeStatus(21, "in_progress", "on_track", "Première réunion")
    )
    [published] = store.events()
    assert published == envelope
    assert (published.event_type, published.subject, published.source) == (
        "ActionStatusChanged",
        "action-21",
        "actions",
    )
    assert (published.actor, published.correlation_id, published.causation_id) == (COORDINATION, correlation, None)
    assert published.data["previous_status"] == "not_started"
    assert published.data["changes"] == [
        {"field": "status", "old": "not_started", "new": "in_progress"},
        {"field": "traffic_light", "old": None, "new": "on_track"},
        {"field": "status_note", "old": "", "new": "Première réunion"},
    ]
    action = await store.repo.get_action(21)
    assert action is not None and (action["status"], action["version"]) == ("in_progress", 1)
    last = (await store.repo.history(21))[-1]
    assert (last["event_id"], last["changes"]) == (envelope.event_id, published.data["changes"]), (
        "recorded in the history"
    )


async def test_a_move_the_transitions_do_not_allow_is_refused_and_changes_nothing(store: Store) -> None:
    with pytest.raises(InvalidTransition, match="cannot go from not_started to completed"):
        await change_status(acting(store), ChangeStatus(5, "completed", None, ""))
    action = await store.repo.get_action(5)
    assert action is not None and action["status"] == "not_started"
    assert store.events() == []
    assert len(await store.repo.history(5)) == 1, "only its registration"


async def test_the_same_status_light_and_note_again_is_a_conflict(store: Store) -> None:
    await change_status(acting(store), ChangeStatus(5, "planned", None, ""))
    with pytest.raises(Conflict, match="already planned"):
        await change_status(acting(store), ChangeStatus(5, "planned", None, ""))


async def test_an_owner_changes_the_status_of_the_actions_it_leads_only(store: Store) -> None:
    await change_status(acting(store, BRUXELLES_FORMATION), ChangeStatus(38, "planned", None, ""))
    with pytest.raises(Forbidden, match="may not update action 39"):
        await change_status(acting(store, BRUXELLES_FORMATION), ChangeStatus(39, "planned", None, ""))
    assert [e.data["action_number"] for e in store.events()] == [38]


async def test_an_action_outside_the_plan_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match="no action 99"):
        await change_status(acting(store), ChangeStatus(99, "planned", None, ""))


async def test_details_are_edited_by_the_coordination_only(store: Store) -> None:
    with pytest.raises(Forbidden, match="only the Coordination"):
        await change_details(acting(store, BRUXELLES_FORMATION), ChangeDetails(38, {"weight": Decimal(2)}))
    assert store.events() == []


async def test_details_naming_unknown_organisations_are_refused(store: Store) -> None:
    with pytest.raises(Conflict, match="unknown organisations: nobody"):
        await change_details(acting(store), ChangeDetails(38, {"partners": ["actiris", "nobody"]}))
    action = await store.repo.get_action(38)
    assert action is not None and action["partners"] == ["epn", "startdigital"]


async def test_changed_details_are_published_field_by_field_and_unchanged_ones_publish_nothing(store: Store) -> None:
    before = await store.repo.get_action(38)
    assert before is not None
    values = {"partners": ["actiris", "epn", "startdigital"], "weight": Decimal(3), "title_nl": before["title_nl"]}
    envelope = await change_details(acting(store), ChangeDetails(38, values))
    assert envelope is not None and envelope.event_type == "ActionDetailsChanged"
    assert envelope.data["changes"] == [
        {"field": "partners", "old": "epn, startdigital", "new": "actiris, epn, startdigital"},
        {"field": "weight", "old": 1.0, "new": 3.0},
    ]
    action = await store.repo.get_action(38)
    assert action is not None and (action["partners"], action["weight"]) == (values["partners"], Decimal(3))
    assert await change_details(acting(store), ChangeDetails(38, values)) is None
    assert len(store.events()) == 1


async def test_an_owner_that_leads_no_action_updates_none(store: Store) -> None:
    with pytest.raises(Forbidden):
        await change_status(acting(store, CABAN), ChangeStatus(36, "planned", None, ""))
