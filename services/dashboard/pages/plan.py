"""The plan: axes → chantiers → actions with their traffic lights, progress and owners; indicators
against their targets with their history; overdue milestones; the next meetings; what changed
since the last meeting."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse
from passerelle_contracts import actions_v1
from passerelle_contracts import plan as structure

from services.runtime.db import Executor
from services.runtime.http import api_router

from .. import charts, feed, texts
from ..viewers import Viewer, signed_in
from ..web import pool_of, render, today

TOPICS = (actions_v1.TOPIC,)
CHANGES_SHOWN = 20  # actions listed under "what changed since the last meeting"

texts.register(
    {
        "fr": {
            "plan_title": "Où en est le plan",
            "plan_summary": "Actions par statut",
            "axis": "Axe {n}",
            "chantier": "Chantier {n}",
            "action": "Action",
            "lead": "Pilote",
            "status": "Statut",
            "light": "Météo",
            "progress": "Avancement",
            "indicators": "Indicateurs",
            "indicator": "Indicateur",
            "value": "Valeur",
            "target": "Cible",
            "history": "Historique",
            "overdue_milestones": "Jalons en retard",
            "milestone": "Jalon",
            "planned_on": "Prévu le",
            "next_meetings": "Prochaines réunions",
            "meeting": "Réunion",
            "starts_at": "Date",
            "no_meeting": "Aucune réunion prévue.",
            "since_meeting": "Ce qui a changé depuis la dernière réunion",
            "since_meeting_none": "Aucune réunion tenue pour l'instant : changements depuis le début.",
            "since": "depuis le {day}",
            "changes": "Changements",
            "actions_count": "actions",
        },
        "nl": {
            "plan_title": "Waar staat het plan",
            "plan_summary": "Acties per status",
            "axis": "As {n}",
            "chantier": "Werf {n}",
            "action": "Actie",
            "lead": "Trekker",
            "status": "Status",
            "light": "Weerbericht",
            "progress": "Voortgang",
            "indicators": "Indicatoren",
            "indicator": "Indicator",
            "value": "Waarde",
            "target": "Doel",
            "history": "Verloop",
            "overdue_milestones": "Mijlpalen met vertraging",
            "milestone": "Mijlpaal",
            "planned_on": "Gepland op",
            "next_meetings": "Volgende vergaderingen",
            "meeting": "Vergadering",
            "starts_at": "Datum",
            "no_meeting": "Geen vergadering gepland.",
            "since_meeting": "Wat veranderde sinds de laatste vergadering",
            "since_meeting_none": "Nog geen vergadering gehouden: wijzigingen sinds het begin.",
            "since": "sinds {day}",
            "changes": "Wijzigingen",
            "actions_count": "acties",
        },
    }
)


async def figures(db: Executor, as_of: date) -> dict[str, Any]:
    """The plan's figures at ``as_of`` (overdue milestones, next meetings)."""
    actions = [dict(r) for r in await db.fetch("SELECT * FROM plan_actions ORDER BY number")]
    for action in actions:
        action.pop("updated_at", None)
    indicators = [dict(r) for r in await db.fetch("SELECT * FROM plan_indicators ORDER BY action_number, code")]
    points = await db.fetch(
        "SELECT code, measured_on, value FROM plan_indicator_points ORDER BY code, measured_on, occurred_at"
    )
    history: dict[str, list[tuple[str, float]]] = {}
    for p in points:
        history.setdefault(p["code"], []).append((p["measured_on"].isoformat(), p["value"]))
    for indicator in indicators:
        indicator["history"] = history.get(indicator["code"], [])
        indicator["measured_on"] = indicator["measured_on"].isoformat() if indicator["measured_on"] else None
    overdue = [
        {**dict(r), "planned_on": r["planned_on"].isoformat()}
        for r in await db.fetch(
            """SELECT id, action_number, title_fr, title_nl, planned_on FROM plan_milestones
               WHERE reached_on IS NULL AND planned_on < $1 ORDER BY planned_on, action_number, id""",
            as_of,
        )
    ]
    next_meetings = [
        {"id": r["id"], "kind": r["kind"], "starts_at": r["starts_at"].isoformat()}
        for r in await db.fetch(
            """SELECT DISTINCT ON (kind) id, kind, starts_at FROM plan_meetings
               WHERE status = 'scheduled' AND (starts_at AT TIME ZONE 'Europe/Brussels')::date >= $1
               ORDER BY kind, starts_at, id""",
            as_of,
        )
    ]
    last_held = await db.fetchval("SELECT max(held_on) FROM plan_meetings WHERE status = 'held'")
    changed = await db.fetch(
        """SELECT action_number, count(*) AS changes FROM feed_events
           WHERE topic = $1 AND action_number IS NOT NULL
             AND ($2::date IS NULL OR occurred_at >= ($2::date::timestamp AT TIME ZONE 'Europe/Brussels'))
           GROUP BY action_number ORDER BY count(*) DESC, action_number""",
        actions_v1.TOPIC,
        last_held,
    )
    return {
        "as_of": as_of.isoformat(),
        "actions": actions,
        "by_status": dict(sorted(Counter(a["status"] for a in actions).items())),
        "by_traffic_light": dict(sorted(Counter(a["traffic_light"] or "none" for a in actions).items())),
        "indicators": indicators,
        "overdue_milestones": overdue,
        "next_meetings": next_meetings,
        "since_meeting": {
            "since": last_held.isoformat() if last_held else None,
            "actions": [{"action_number": r["action_number"], "changes": r["changes"]} for r in changed],
        },
    }


def _tree(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Axes → chantiers → actions, in the plan's order."""
    axes: dict[int, dict[int, list[dict[str, Any]]]] = {}
    for action in actions:
        axes.setdefault(action["axis"], {}).setdefault(action["chantier"], []).append(action)
    return [
        {"number": axis, "chantiers": [{"number": c, "actions": acts} for c, acts in sorted(chantiers.items())]}
        for axis, chantiers in sorted(axes.items())
    ]


router = api_router()


@router.get("/", response_class=HTMLResponse, summary="The plan: axes, chantiers, actions, indicators, meetings")
async def plan_page(request: Request, viewer: Viewer = Depends(signed_in)) -> HTMLResponse:
    after = await feed.latest(pool_of(request))  # before the figures: see web.render
    f = await figures(pool_of(request), today())
    titles = {a["action_number"]: a for a in f["since_meeting"]["actions"]}
    return render(
        request,
        viewer,
        "plan.html",
        {
            "f": f,
            "tree": _tree(f["actions"]),
            "by_number": {a["number"]: a for a in f["actions"]},
            "changed": list(titles.values())[:CHANGES_SHOWN],
            "structure": structure,
            "sparkline": charts.sparkline,
            "parse_moment": datetime.fromisoformat,
        },
        title="plan_title",
        live_topics=TOPICS,
        after=after,
    )


@router.get("/api/plan", summary="The plan's figures as JSON")
async def plan_json(request: Request, viewer: Viewer = Depends(signed_in)) -> JSONResponse:
    return JSONResponse(await figures(pool_of(request), today()))
