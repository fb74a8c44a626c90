"""Progress by hand or from milestones, and milestones planned, reached and found overdue."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from passerelle_contracts import SYSTEM_ACTOR

from services.actions.handlers.actions import UpdateProgress, update_progress
from services.actions.handlers.milestones import (
    AnnounceOverdue,
    PlanMilestone,
    ReachMilestone,
    announce_overdue,
    plan_milestone,
    reach_milestone,
)
from services.runtime.errors import Conflict, Invalid, NotFound
from services.runtime.inputs import brussels_today
from services.runtime.uow import Context

from .conftest import BRUXELLES_FORMATION, Store, acting, in_context


async def test_progress_set_by_hand_is_published_once(store: Store) -> None:
    envelope = await update_progress(acting(store), UpdateProgress(29, Decimal(80), "manual"))
    assert envelope is not None
    assert (envelope.data["previous_progress"], envelope.data["progress"], envelope.data["mode"]) == (
        0.0,
        80.0,
        "manual",
    )
    assert await update_progress(acting(store), UpdateProgress(29, Decimal("80.00"), "manual")) is None
    assert len(store.events("ActionProgressUpdated")) == 1


@pytest.mark.parametrize(("progress", "reason"), [(None, "needs a value"), (Decimal(120), "between 0 and 100")])
async def test_progress_by_hand_needs_a_value_between_0_and_100(
    store: Store, progress: Decimal | None, reason: str
) -> None:
    with pytest.raises(Conflict, match=reason):
        await update_progress(acting(store), UpdateProgress(29, progress, "manual"))
    assert store.events() == []


async def test_in_milestones_mode_progress_is_the_share_reached_and_is_caused_by_the_milestone(store: Store) -> None:
    first = await plan_milestone(acting(store), PlanMilestone(46, "Convention signée", "", date(2024, 3, 31)))
    await plan_milestone(acting(store), PlanMilestone(46, "Premier lot livré", "", date(2024, 9, 30)))
    assert store.events("ActionProgressUpdated") == [], "still in manual mode"
    switched = await update_progress(acting(store), UpdateProgress(46, None, "milestones"))
    assert switched is not None and (switched.data["progress"], switched.data["mode"]) == (0.0, "milestones")

    correlation = uuid.uuid4()
    await reach_milestone(acting(store, correlation_id=correlation), ReachMilestone(46, first["id"], date(2024, 3, 28)))
    reached, progress = store.events()[-2:]
    assert (reached.event_type, progress.event_type) == ("MilestoneReached", "ActionProgressUpdated")
    assert progress.data["progress"] == 50.0
    assert (progress.causation_id, progress.correlation_id) == (reached.event_id, correlation)
    action = await store.repo.get_action(46)
    assert action is not None and action["progress"] == Decimal(50)


async def test_a_reached_milestone_is_neither_reached_again_nor_replanned(store: Store) -> None:
    milestone = await plan_milestone(acting(store), PlanMilestone(46, "Convention", "", date(2024, 3, 31)))
    await reach_milestone(acting(store), ReachMilestone(46, milestone["id"], date(2024, 3, 28)))
    with pytest.raises(Conflict, match="already reached on 2024-03-28"):
        await reach_milestone(acting(store), ReachMilestone(46, milestone["id"], date(2024, 3, 29)))
    with pytest.raises(Conflict, match="cannot be re-planned"):
        await plan_milestone(acting(store), PlanMilestone(46, "Convention", "", date(2024, 4, 30), milestone["id"]))
    with pytest.raises(NotFound, match="no milestone"):
        await reach_milestone(acting(store), ReachMilestone(47, milestone["id"], date(2024, 3, 29)))


async def test_replanning_with_the_same_title_and_date_publishes_nothing(store: Store) -> None:
    milestone = await plan_milestone(acting(store), PlanMilestone(46, "Convention", "", date(2024, 3, 31)))
    again = await plan_milestone(acting(store), PlanMilestone(46, "Convention", "", date(2024, 3, 31), milestone["id"]))
    assert again["id"] == milestone["id"]
    assert [e.event_type for e in store.events()] == ["MilestonePlanned"]


async def test_only_the_lead_plans_its_milestones(store: Store) -> None:
    await plan_milestone(acting(store, BRUXELLES_FORMATION), PlanMilestone(38, "Recrutement", "", date(2024, 3, 31)))
    with pytest.raises(Exception, match="may not update action 46"):
        await plan_milestone(acting(store, BRUXELLES_FORMATION), PlanMilestone(46, "Convention", "", date(2024, 3, 31)))


async def test_an_overdue_milestone_is_announced_once_by_the_system_and_again_once_replanned(store: Store) -> None:
    kept = await plan_milestone(acting(store), PlanMilestone(46, "Premier lot livré", "", date(2024, 9, 30)))
    await plan_milestone(acting(store), PlanMilestone(46, "Bilan", "", date(2024, 12, 31)))
    check = Context.system()
    [overdue] = await announce_overdue(in_context(store, check), AnnounceOverdue(date(2024, 10, 3)))
    assert (overdue.event_type, overdue.subject, overdue.actor) == ("MilestoneOverdue", "action-46", SYSTEM_ACTOR)
    assert overdue.correlation_id == check.correlation_id
    assert (overdue.data["milestone_id"], overdue.data["days_overdue"]) == (str(kept["id"]), 3)
    assert await announce_overdue(in_context(store, Context.system()), AnnounceOverdue(date(2024, 10, 4))) == []

    await plan_milestone(acting(store), PlanMilestone(46, "Premier lot livré", "", date(2024, 12, 15), kept["id"]))
    assert await announce_overdue(in_context(store, Context.system()), AnnounceOverdue(date(2024, 12, 1))) == []
    [again] = await announce_overdue(in_context(store, Context.system()), AnnounceOverdue(date(2024, 12, 20)))
    assert again.data["days_overdue"] == 5


async def test_an_overdue_check_run_by_a_person_still_announces_as_the_system(store: Store) -> None:
    await plan_milestone(acting(store), PlanMilestone(46, "Convention", "", date(2024, 3, 31)))
    correlation = uuid.uuid4()
    [overdue] = await announce_overdue(acting(store, correlation_id=correlation), AnnounceOverdue(date(2024, 4, 1)))
    assert (overdue.actor, overdue.correlation_id) == (SYSTEM_ACTOR, correlation)
    assert (await store.repo.history(46))[-1]["actor"] == SYSTEM_ACTOR.model_dump(mode="json")


async def test_the_overdue_check_refuses_a_day_after_today_in_brussels(store: Store) -> None:
    await plan_milestone(acting(store), PlanMilestone(46, "Convention", "", date(2024, 3, 31)))
    for as_of in (date(2231, 1, 1), brussels_today() + timedelta(days=1)):
        with pytest.raises(Invalid, match="has not happened yet"):
            await announce_overdue(acting(store), AnnounceOverdue(as_of))
    assert store.events("MilestoneOverdue") == []


async def test_a_milestone_is_planned_within_ten_years_and_reached_no_later_than_today(store: Store) -> None:
    with pytest.raises(Invalid, match="more than 10 years ahead"):
        await plan_milestone(acting(store), PlanMilestone(46, "Bilan", "", date(2999, 1, 1)))
    planned = await plan_milestone(acting(store), PlanMilestone(46, "Bilan", "", brussels_today() + timedelta(days=30)))
    with pytest.raises(Invalid, match="has not happened yet"):
        await reach_milestone(acting(store), ReachMilestone(46, planned["id"], brussels_today() + timedelta(days=1)))
    assert [e.event_type for e in store.events()] == ["MilestonePlanned"]
