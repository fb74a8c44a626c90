"""The annual report to the Government, rebuilt "as of" a cut-off date from the event history.

The report is a pure function of the history recorded up to the end of the cut-off day (UTC):
statuses, progress, indicator values and milestones are folded from each action's events, so the
same history and cut-off always give the same figures and the same files. Titles, organisations
and roll-up weights are the current ones (they describe the plan rather than its progress).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from passerelle_contracts import Actor
from passerelle_contracts.common import ACTION_STATUSES

from services.runtime.errors import Conflict, Forbidden
from services.runtime.outbox import enqueue

from . import domain, events
from .report_model import (
    ActionLine,
    AnnualReport,
    AxisLine,
    Change,
    ChantierLine,
    IndicatorLine,
    MeetingLine,
    MilestoneLine,
)


def end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


async def build_annual_report(conn: asyncpg.Connection | asyncpg.Pool, year: int, as_of: date) -> AnnualReport:
    cutoff, year_start = end_of(as_of), datetime(year, 1, 1, tzinfo=UTC)
    plan = await conn.fetch(
        """SELECT a.number, a.title_fr, a.title_nl, a.chantier, a.weight, lo.name AS lead,
                  array(SELECT coalesce(o.name, p) FROM unnest(a.partners) p LEFT JOIN organisations o ON o.code = p)
                      AS partners,
                  c.axis, c.title_fr AS chantier_fr, c.title_nl AS chantier_nl, x.title_fr AS axis_fr, x.title_nl AS axis_nl
           FROM actions a JOIN chantiers c ON c.number = a.chantier JOIN axes x ON x.number = c.axis
           JOIN organisations lo ON lo.code = a.lead ORDER BY a.number"""
    )
    history = await conn.fetch(
        "SELECT action_number, event_type, data, changes, occurred_at FROM action_history WHERE occurred_at < $1 ORDER BY id",
        cutoff,
    )
    meetings = await conn.fetch(
        """SELECT m.held_on, m.kind, cardinality(m.attendees) AS attendees,
                  (SELECT count(*) FROM decisions d WHERE d.meeting_id = m.id) AS decisions
           FROM meetings m WHERE m.recorded_at < $1 AND m.held_on BETWEEN $2 AND $3 ORDER BY m.held_on""",
        cutoff, date(year, 1, 1), as_of,
    )
    by_action: dict[int, list[asyncpg.Record]] = defaultdict(list)
    for row in history:
        by_action[row["action_number"]].append(row)

    lines = {r["number"]: _fold(r, by_action[r["number"]], year_start, as_of) for r in plan}
    axes: list[AxisLine] = []
    for axis in sorted({r["axis"] for r in plan}):
        chantiers = []
        rows = [r for r in plan if r["axis"] == axis]
        for chantier in sorted({r["chantier"] for r in rows}):
            members = [r for r in rows if r["chantier"] == chantier]
            progress = domain.weighted_average([(Decimal(str(lines[r["number"]].progress)), r["weight"]) for r in members])
            chantiers.append(
                ChantierLine(chantier, members[0]["chantier_fr"], members[0]["chantier_nl"], float(progress),
                             tuple(lines[r["number"]] for r in members))
            )
        progress = domain.weighted_average([(Decimal(str(lines[r["number"]].progress)), r["weight"]) for r in rows])
        axes.append(AxisLine(axis, rows[0]["axis_fr"], rows[0]["axis_nl"], float(progress), tuple(chantiers)))
    by_status: dict[str, int] = {s: 0 for s in ACTION_STATUSES}
    for line in lines.values():
        by_status[line.status] += 1
    return AnnualReport(
        year=year,
        as_of=as_of,
        generated_at=cutoff - timedelta(seconds=1),  # deterministic: the report describes the cut-off
        plan_title_fr="Plan d'appropriation numérique 2021-2024",
        plan_title_nl="",
        rollup_rule=domain.ROLLUP_RULE,
        axes=tuple(axes),
        meetings=tuple(MeetingLine(m["held_on"], m["kind"], m["attendees"], m["decisions"]) for m in meetings),
        by_status=by_status,
    )


def _fold(action: asyncpg.Record, history: list[asyncpg.Record], year_start: datetime, as_of: date) -> ActionLine:
    status, light, note, progress = "not_started", None, "", 0.0
    indicators: dict[str, dict[str, Any]] = {}
    milestones: dict[str, dict[str, Any]] = {}
    changes: list[Change] = []
    decisions: list[str] = []
    for row in history:
        data, kind, during_year = row["data"], row["event_type"], row["occurred_at"] >= year_start
        if not data:  # written before migration 0002 kept event data: nothing to fold
            continue
        if kind == "ActionStatusChanged":
            status, light, note = data["status"], data.get("traffic_light"), data.get("note", "")
        elif kind == "ActionProgressUpdated":
            progress = data["progress"]
        elif kind == "IndicatorDefined":
            entry = indicators.setdefault(data["indicator_code"], {"value": data["baseline"], "start": data["baseline"]})
            entry.update({k: data[k] for k in ("name_fr", "name_nl", "unit", "baseline", "target", "period")})
        elif kind == "IndicatorMeasured":
            entry = indicators.setdefault(data["indicator_code"], {"start": data["previous_value"]})
            entry.setdefault("name_fr", data["indicator_name_fr"])
            entry.setdefault("name_nl", data["indicator_name_nl"])
            entry.setdefault("unit", data["unit"])
            entry.setdefault("baseline", 0.0)
            entry.setdefault("target", data["target"])
            entry.setdefault("period", "")
            entry["value"] = data["value"]
            if not during_year:
                entry["start"] = data["value"]
        elif kind in ("MilestonePlanned", "MilestoneReached"):
            m = milestones.setdefault(data["milestone_id"], {"reached_on": None})
            m.update(title_fr=data["title_fr"], title_nl=data.get("title_nl", ""), planned_on=date.fromisoformat(data["planned_on"]))
            if kind == "MilestoneReached":
                m["reached_on"] = date.fromisoformat(data["reached_on"])
        elif kind == "DecisionRecorded" and during_year:
            decisions.append(f"{data['held_on']} — {data['decision']}")
        if during_year and kind not in ("ActionRegistered", "IndicatorDefined"):
            changes.extend(
                Change(row["occurred_at"].date(), kind, c["field"], c.get("old"), c.get("new")) for c in row["changes"]
            )
    return ActionLine(
        number=action["number"],
        title_fr=action["title_fr"],
        title_nl=action["title_nl"],
        lead=action["lead"],
        partners=tuple(action["partners"]),
        status=status,
        traffic_light=light,
        status_note=note,
        progress=float(progress),
        indicators=tuple(
            IndicatorLine(code, i["name_fr"], i["name_nl"], i["unit"], float(i["baseline"]),
                          None if i["target"] is None else float(i["target"]), float(i["value"]), float(i["start"]), i["period"])
            for code, i in sorted(indicators.items())
            if "value" in i
        ),
        milestones=tuple(
            MilestoneLine(m["title_fr"], m["title_nl"], m["planned_on"], m["reached_on"],
                          domain.milestone_state(m["planned_on"], m["reached_on"], as_of))  # type: ignore[arg-type]
            for m in sorted(milestones.values(), key=lambda m: m["planned_on"])
        ),
        changes=tuple(changes),
        decisions=tuple(decisions),
    )


async def publish_annual_report(
    pool: asyncpg.Pool, topic: str, year: int, as_of: date, actor: Actor, correlation_id: uuid.UUID
) -> dict[str, Any]:
    """Build, render and store the report's files, and announce them (AnnualReportPublished)."""
    from .report_render import render_all  # WeasyPrint is heavy: loaded only when a report is made

    if actor.role != "coordination":
        raise Forbidden("only the Coordination publishes the annual report")
    if not date(year, 1, 1) <= as_of <= date(year + 1, 12, 31):
        raise Conflict(f"the cut-off {as_of} does not fall in or just after {year}")
    report = await build_annual_report(pool, year, as_of)
    # Rendering the PDFs takes seconds of CPU: off the event loop, so consumers and HTTP keep going.
    files = await asyncio.to_thread(render_all, report)
    hashes = {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}
    report_id = f"annual-report-{year}-as-of-{as_of.isoformat()}"
    async with pool.acquire() as conn, conn.transaction():
        existing = await conn.fetchval("SELECT id FROM annual_reports WHERE id = $1", report_id)
        if existing:
            raise Conflict(f"{report_id} was already published; its files are at /annual-reports/{report_id}")
        await conn.execute(
            "INSERT INTO annual_reports (id, year, as_of, published_by) VALUES ($1, $2, $3, $4)",
            report_id, year, as_of, actor.model_dump(mode="json"),
        )
        await conn.executemany(
            "INSERT INTO annual_report_files (report_id, name, sha256, content) VALUES ($1, $2, $3, $4)",
            [(report_id, name, hashes[name], content) for name, content in files.items()],
        )
        envelope = events.annual_report_published(
            report_id, year, as_of, len(report.actions()), report.by_status, hashes, actor, correlation_id
        )
        await enqueue(conn, topic, envelope)
    return {"report_id": report_id, "year": year, "as_of": as_of, "files": hashes, "by_status": report.by_status}
