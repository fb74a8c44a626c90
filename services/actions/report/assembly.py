"""The annual report to the Government, assembled "as of" a cut-off date from the event history.

The report is a pure function of the history recorded up to the end of the cut-off day (a day
in Brussels, as the year it reports on):
statuses, progress, indicator values and milestones are folded from each action's events, so the
same history and cut-off always give the same figures and the same files. A yearly indicator
(``domain.YEARLY``) shows the count of the report's year, whatever year was measured last. The
report is public: a progress report's moves are in it once the report is approved by the cut-off. Titles, organisations
and roll-up weights are the current ones (they describe the plan rather than its progress).
No I/O here: ``handlers.annual_report`` reads the rows from the repository.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from passerelle_contracts import plan as plan_structure
from passerelle_contracts.common import ACTION_STATUSES

from services.runtime.inputs import BRUSSELS

from .. import domain
from .model import (
    ActionLine,
    AnnualReport,
    AxisLine,
    Change,
    ChantierLine,
    IndicatorLine,
    MeetingLine,
    MilestoneLine,
)

Row = Mapping[str, Any]


def end_of(day: date) -> datetime:
    """The cut-off: the first instant after ``day`` in Brussels (23:00 or 22:00 UTC)."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=BRUSSELS)


def assemble(
    year: int, as_of: date, plan: Sequence[Row], history: Sequence[Row], meetings: Sequence[Row]
) -> AnnualReport:
    """``plan``: every action with its chantier, axis, titles, weight and organisations' names;
    ``history``: the history entries before the cut-off, in the order recorded; ``meetings``: the
    year's meetings recorded before the cut-off, by date."""
    cutoff, year_start = end_of(as_of), datetime(year, 1, 1, tzinfo=BRUSSELS)
    by_action: dict[int, list[Row]] = defaultdict(list)
    for row in history:
        by_action[row["action_number"]].append(row)

    lines = {r["number"]: fold_action(r, by_action[r["number"]], year_start, as_of) for r in plan}
    axes: list[AxisLine] = []
    for axis in sorted({r["axis"] for r in plan}):
        chantiers = []
        rows = [r for r in plan if r["axis"] == axis]
        for chantier in sorted({r["chantier"] for r in rows}):
            members = [r for r in rows if r["chantier"] == chantier]
            progress = domain.weighted_average(
                [(Decimal(str(lines[r["number"]].progress)), r["weight"]) for r in members]
            )
            chantiers.append(
                ChantierLine(
                    chantier,
                    members[0]["chantier_fr"],
                    members[0]["chantier_nl"],
                    float(progress),
                    tuple(lines[r["number"]] for r in members),
                )
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
        plan_title_fr=plan_structure.TITLE["fr"],
        plan_title_nl=plan_structure.TITLE["nl"],
        rollup_rule=domain.ROLLUP_RULE,
        axes=tuple(axes),
        meetings=tuple(MeetingLine(m["held_on"], m["kind"], m["attendees"], m["decisions"]) for m in meetings),
        by_status=by_status,
    )


def fold_action(action: Row, history: Sequence[Row], year_start: datetime, as_of: date) -> ActionLine:
    """One action's line: its state at the cut-off, folded from its history entries (oldest first)."""
    status, light, note, progress = "not_started", None, "", 0.0
    indicators: dict[str, dict[str, Any]] = {}
    milestones: dict[str, dict[str, Any]] = {}
    changes: list[tuple[str | None, Change]] = []  # (the report a change moved, if any; the change)
    approved: set[str] = set()  # reports approved by the cut-off
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
            entry = indicators.setdefault(
                data["indicator_code"], {"value": data["baseline"], "start": data["baseline"]}
            )
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
            if data.get("measured_on"):  # a yearly indicator's value is its year's count
                entry.setdefault("years", {})[date.fromisoformat(data["measured_on"]).year] = data["value"]
        elif kind in ("MilestonePlanned", "MilestoneReached"):
            m = milestones.setdefault(data["milestone_id"], {"reached_on": None})
            m.update(
                title_fr=data["title_fr"],
                title_nl=data.get("title_nl", ""),
                planned_on=date.fromisoformat(data["planned_on"]),
            )
            if kind == "MilestoneReached":
                m["reached_on"] = date.fromisoformat(data["reached_on"])
        elif kind == "DecisionRecorded" and during_year:
            decisions.append(f"{data['held_on']} — {data['decision']}")
        elif kind == "ReportApproved":
            approved.add(data["report_id"])
        if during_year and kind not in ("ActionRegistered", "IndicatorDefined"):
            on_day = row["occurred_at"].astimezone(BRUSSELS).date()
            report = data.get("report_id") if kind in domain.REPORT_EVENT_TYPES else None
            changes.extend(
                (report, Change(on_day, kind, c["field"], c.get("old"), c.get("new"))) for c in row["changes"]
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
            _indicator_line(code, i, year_start.year) for code, i in sorted(indicators.items()) if "value" in i
        ),
        milestones=tuple(
            MilestoneLine(
                m["title_fr"],
                m["title_nl"],
                m["planned_on"],
                m["reached_on"],
                domain.milestone_state(m["planned_on"], m["reached_on"], as_of),
            )
            for m in sorted(milestones.values(), key=lambda m: m["planned_on"])
        ),
        # A report not approved by the cut-off is its action's organisations' (as ``GET /reports``
        # and the history show it): its moves, a return's comment above all, stay out of a public file.
        changes=tuple(change for report, change in changes if report is None or report in approved),
        decisions=tuple(decisions),
    )


def _indicator_line(code: str, folded: dict[str, Any], year: int) -> IndicatorLine:
    """A yearly indicator counts from 0 each year: its value is the report's year's count (a
    meeting of another year, however late it was recorded, counts in its own year)."""
    value, start = folded["value"], folded["start"]
    if folded["period"] == domain.YEARLY:
        value, start = folded.get("years", {}).get(year, 0), 0
    return IndicatorLine(
        code,
        folded["name_fr"],
        folded["name_nl"],
        folded["unit"],
        float(folded["baseline"]),
        None if folded["target"] is None else float(folded["target"]),
        float(value),
        float(start),
        folded["period"],
    )
