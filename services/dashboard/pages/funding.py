"""Funding: the calls' deadlines month by month, the applications by state, the funding
cadastre's totals by funder and by year, the reports due and overdue.

Every figure is taken from the events with the funding service's own definitions. What each
equals, and where the events cannot give the service's figure:

- ``calls``: every ``CallOpened`` (a call's terms never change once opened), nearest deadline
  first = ``GET /calls``; ``state`` at ``as_of`` (Brussels days): ``open`` is what ``GET
  /calls?open_on=as_of`` lists (opened on or before the day, closing on or after it);
  ``calendar``: the same calls by the month of their deadline. ``last_reminder`` is the latest
  ``CallClosingSoon`` stage announced.
- ``applications``: by status, the ``ApplicationSubmitted`` then ``ApplicationDecided`` of each
  = the applications of ``GET /applications`` (read by the Coordination) counted by ``status``,
  with their amounts requested and granted. The reviews' scores are not shown.
- ``cadastre``: lines, committed, paid and complete lines by funder and by year, from
  ``FundingLineRecorded`` and ``FundingLineChanged`` (its new values, and ``complete``) = ``GET
  /cadastre/totals?by=funder`` and ``?by=year`` (groups, largest committed first, and total;
  amounts as text, as the API gives them). The cadastre keeps no date: these are today's.
- ``reports``: the reports the grants' agreements ask (``GrantAgreementSigned``), moved by an
  extension (``GrantAmended``'s ``final_report_due_on``), submitted and reviewed
  (``GrantReportSubmitted``, ``GrantReportReviewed``), of grants not closed (``GrantClosed``),
  still to be submitted (pending, or returned) and due within 14 days of ``as_of`` or overdue:
  what the funding service's deadline checker considers (``open_duties``), with the stage it
  announces (``reminder_stage``: t-14, t-7, due, overdue); ``last_reminder`` is the latest
  ``ReportingReminder`` stage announced. A grant whose agreement was signed before the dashboard
  existed and whose events are gone would show its reports only from their first reminder (the
  reminder carries the report's due date): the topics keep every event, so a rebuild has them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse
from passerelle_contracts import funding_v1, i18n

from services.runtime.db import Executor
from services.runtime.http import api_router
from services.runtime.inputs import BRUSSELS

from .. import charts, feed, texts
from ..viewers import Viewer, signed_in
from ..web import language, pool_of, render, today

TOPICS = (funding_v1.TOPIC,)
APPLICATION_STATUSES = ("submitted", "granted", "partially-granted", "refused")
DUTY_STATUSES = ("pending", "submitted", "returned", "approved")
HORIZON_DAYS = 14  # the funding service's deadline checker looks this far ahead
CADASTRE_BY = ("funder", "year")

texts.register(
    {
        "fr": {
            "fu_title": "Financement : appels, candidatures, cadastre, rapports",
            "fu_calendar": "Échéances des appels à projets",
            "fu_calendar_help": "Les appels par mois de leur date limite. État au {day}.",
            "fu_call": "Appel",
            "fu_funder": "Financeur",
            "fu_deadline": "Date limite",
            "fu_opens_on": "Ouvert le",
            "fu_state": "État",
            "fu_state_upcoming": "pas encore ouvert",
            "fu_state_open": "ouvert",
            "fu_state_closed": "clôturé",
            "fu_open_calls": "Appels ouverts",
            "fu_reminder": "Rappel",
            "fu_applications": "Candidatures par état",
            "fu_application_status": "État",
            "fu_status_submitted": "introduite, en attente de décision",
            "fu_count": "Nombre",
            "fu_requested": "Demandé (€)",
            "fu_granted": "Accordé (€)",
            "fu_cadastre": "Cadastre des financements",
            "fu_cadastre_funder": "Totaux par financeur",
            "fu_cadastre_year": "Totaux par année",
            "fu_year": "Année",
            "fu_lines": "Lignes",
            "fu_committed": "Engagé (€)",
            "fu_paid": "Payé (€)",
            "fu_complete_lines": "Lignes complètes",
            "fu_reports": "Rapports à remettre",
            "fu_reports_overdue": "Rapports en retard",
            "fu_reports_due": "Rapports dus dans les 14 jours",
            "fu_grant": "Subvention",
            "fu_beneficiary": "Bénéficiaire",
            "fu_report_kind": "Rapport",
            "fu_due_on": "Dû le",
            "fu_report_status": "État",
            "fu_when": "Échéance",
            "fu_duty_pending": "à remettre",
            "fu_duty_returned": "renvoyé pour complément",
        },
        "nl": {
            "fu_title": "Financiering: oproepen, aanvragen, kadaster, verslagen",
            "fu_calendar": "Termijnen van de projectoproepen",
            "fu_calendar_help": "De oproepen per maand van hun uiterste datum. Toestand op {day}.",
            "fu_call": "Oproep",
            "fu_funder": "Financier",
            "fu_deadline": "Uiterste datum",
            "fu_opens_on": "Geopend op",
            "fu_state": "Toestand",
            "fu_state_upcoming": "nog niet geopend",
            "fu_state_open": "open",
            "fu_state_closed": "afgesloten",
            "fu_open_calls": "Open oproepen",
            "fu_reminder": "Herinnering",
            "fu_applications": "Aanvragen per toestand",
            "fu_application_status": "Toestand",
            "fu_status_submitted": "ingediend, wacht op beslissing",
            "fu_count": "Aantal",
            "fu_requested": "Gevraagd (€)",
            "fu_granted": "Toegekend (€)",
            "fu_cadastre": "Kadaster van de financieringen",
            "fu_cadastre_funder": "Totalen per financier",
            "fu_cadastre_year": "Totalen per jaar",
            "fu_year": "Jaar",
            "fu_lines": "Lijnen",
            "fu_committed": "Vastgelegd (€)",
            "fu_paid": "Betaald (€)",
            "fu_complete_lines": "Volledige lijnen",
            "fu_reports": "In te dienen verslagen",
            "fu_reports_overdue": "Verslagen te laat",
            "fu_reports_due": "Verslagen binnen 14 dagen",
            "fu_grant": "Subsidie",
            "fu_beneficiary": "Begunstigde",
            "fu_report_kind": "Verslag",
            "fu_due_on": "In te dienen op",
            "fu_report_status": "Toestand",
            "fu_when": "Termijn",
            "fu_duty_pending": "in te dienen",
            "fu_duty_returned": "teruggestuurd om aan te vullen",
        },
    }
)


def reminder_stage(due_on: date, day: date) -> str | None:
    """The stage a deadline is in on ``day`` (the funding service's ``reminder_stage``)."""
    days = (due_on - day).days
    if days < 0:
        return "overdue"
    if days == 0:
        return "due"
    if days <= 7:
        return "t-7"
    if days <= HORIZON_DAYS:
        return "t-14"
    return None


def _state(opens_on: date, closes_on: date, day: date) -> str:
    if opens_on > day:
        return "upcoming"
    return "open" if closes_on >= day else "closed"


async def _cadastre(db: Executor, by: str) -> dict[str, Any]:
    """``GET /cadastre/totals?by=`` from the lines: groups, the largest committed first, and the total."""
    column = {"funder": "funder", "year": "year"}[by]
    groups = [
        dict(r)
        for r in await db.fetch(
            f"""SELECT {column} AS key, count(*) AS lines, sum(committed_eur) AS committed_eur,
                       coalesce(sum(paid_eur), 0) AS paid_eur, count(*) FILTER (WHERE complete) AS complete_lines
                FROM fu_lines GROUP BY {column} ORDER BY sum(committed_eur) DESC, {column}"""  # noqa: S608 - a column of the map
        )
    ]
    total = {
        "key": None,
        "lines": sum(g["lines"] for g in groups),
        "committed_eur": sum((g["committed_eur"] for g in groups), Decimal(0)),
        "paid_eur": sum((g["paid_eur"] for g in groups), Decimal(0)),
        "complete_lines": sum(g["complete_lines"] for g in groups),
    }
    return {"by": by, "groups": [_amounts(g) for g in groups], "total": _amounts(total)}


def _amounts(group: dict[str, Any]) -> dict[str, Any]:
    return group | {"committed_eur": str(group["committed_eur"]), "paid_eur": str(group["paid_eur"])}


async def figures(db: Executor, as_of: date) -> dict[str, Any]:
    """The funding's figures at ``as_of`` (the calls' states and the reports' stages), from the events alone."""
    calls = []
    calendar: dict[str, list[str]] = defaultdict(list)
    for r in await db.fetch("SELECT * FROM fu_calls ORDER BY closes_at, call_code"):
        closes_on = r["closes_at"].astimezone(BRUSSELS).date()
        calls.append(
            {
                "call_code": r["call_code"],
                "management": r["management"],
                "call_kind": r["call_kind"],
                "funder": r["funder"],
                "programme": r["programme"],
                "title_fr": r["title_fr"],
                "title_nl": r["title_nl"],
                "opens_on": r["opens_on"].isoformat(),
                "closes_at": r["closes_at"].isoformat(),
                "closes_on": closes_on.isoformat(),
                "budget_eur": None if r["budget_eur"] is None else str(r["budget_eur"]),
                "action_number": r["action_number"],
                "state": _state(r["opens_on"], closes_on, as_of),
                "last_reminder": r["last_reminder"],
            }
        )
        calendar[f"{closes_on.year:04d}-{closes_on.month:02d}"].append(r["call_code"])

    by_status = {s: {"applications": 0, "requested_eur": "0", "amount_eur": "0"} for s in APPLICATION_STATUSES}
    for r in await db.fetch(
        """SELECT status, count(*) AS n, coalesce(sum(requested_eur), 0) AS requested,
                  coalesce(sum(amount_eur), 0) AS amount
           FROM fu_applications GROUP BY status ORDER BY status"""
    ):
        by_status[r["status"]] = {
            "applications": r["n"],
            "requested_eur": str(r["requested"]),
            "amount_eur": str(r["amount"]),
        }
    by_call: dict[str, Counter[str]] = defaultdict(Counter)
    for r in await db.fetch("SELECT call_code, status, count(*) AS n FROM fu_applications GROUP BY 1, 2"):
        by_call[r["call_code"]][r["status"]] = r["n"]

    reports = []
    for r in await db.fetch(
        """SELECT d.duty_id, d.grant_id, d.beneficiary, d.kind, d.due_on, d.status, d.last_reminder
           FROM fu_duties d LEFT JOIN fu_grants g ON g.grant_id = d.grant_id
           WHERE d.status IN ('pending', 'returned') AND d.due_on <= $1 AND g.closed_on IS NULL
           ORDER BY d.due_on, d.duty_id""",
        as_of + timedelta(days=HORIZON_DAYS),
    ):
        reports.append(
            {
                "duty_id": r["duty_id"],
                "grant_id": r["grant_id"],
                "beneficiary": r["beneficiary"],
                "kind": r["kind"],
                "due_on": r["due_on"].isoformat(),
                "status": r["status"],
                "stage": reminder_stage(r["due_on"], as_of),
                "last_reminder": r["last_reminder"],
            }
        )
    duty_counts = Counter(
        {r["status"]: r["n"] for r in await db.fetch("SELECT status, count(*) AS n FROM fu_duties GROUP BY status")}
    )

    return {
        "as_of": as_of.isoformat(),
        "calls": calls,
        "open_calls": sum(1 for c in calls if c["state"] == "open"),
        "calendar": [{"month": month, "calls": codes} for month, codes in sorted(calendar.items())],
        "applications": {
            "by_status": by_status,
            "total": sum(s["applications"] for s in by_status.values()),
            "by_call": {
                code: {s: counts.get(s, 0) for s in APPLICATION_STATUSES} for code, counts in sorted(by_call.items())
            },
        },
        "cadastre": {by: await _cadastre(db, by) for by in CADASTRE_BY},
        "reports": {
            "overdue": [r for r in reports if r["stage"] == "overdue"],
            "due": [r for r in reports if r["stage"] != "overdue"],
            "by_status": {s: duty_counts.get(s, 0) for s in DUTY_STATUSES},
        },
    }


CADASTRE_READERS = frozenset({"coordination", "operator", "caban"})  # as GET /cadastre/totals


def seen_by(f: dict[str, Any], viewer: Viewer) -> dict[str, Any]:
    """The figures as ``viewer`` may read them through the funding service's own API: the cadastre's
    totals for the Coordination, operators and CABAN; the reports due of a partner's own grants;
    the applications' counts but not their amounts (an applicant reads only its own)."""
    if viewer.is_operator:
        return f
    seen = {**f, "reports": {**f["reports"]}, "applications": {**f["applications"]}}
    if viewer.role not in CADASTRE_READERS:
        seen["cadastre"] = {}
    for stage in ("overdue", "due"):
        seen["reports"][stage] = [r for r in f["reports"][stage] if r["beneficiary"] == viewer.organisation]
    seen["applications"]["by_status"] = {
        status: {**v, "requested_eur": None, "amount_eur": None} for status, v in f["applications"]["by_status"].items()
    }
    return seen


router = api_router()


@router.get(
    "/funding", response_class=HTMLResponse, summary="Funding: call deadlines, applications, cadastre, reports due"
)
async def funding_page(request: Request, viewer: Viewer = Depends(signed_in)) -> HTMLResponse:
    after = await feed.latest(pool_of(request))  # before the figures: see web.render
    f = seen_by(await figures(pool_of(request), today()), viewer)
    lang = language(request)
    t = texts.all_texts(lang)
    by_code = {c["call_code"]: c for c in f["calls"]}
    months = [
        {
            "name": f"{i18n.month_name(int(m['month'][5:]), lang)} {m['month'][:4]}",
            "month": m["month"],
            "calls": [by_code[code] for code in m["calls"]],
        }
        for m in f["calendar"]
    ]
    funder_chart = charts.bars(
        [
            (i18n.label(i18n.FUNDER_KIND, lang, g["key"]), float(g["committed_eur"]))
            for g in (f["cadastre"]["funder"]["groups"] if f["cadastre"] else [])
        ],
        t["fu_cadastre_funder"],
    )
    status_chart = charts.bars(
        [(_status_label(s, lang, t), float(v["applications"])) for s, v in f["applications"]["by_status"].items()],
        t["fu_applications"],
    )
    return render(
        request,
        viewer,
        "funding.html",
        {
            "f": f,
            "as_of": date.fromisoformat(f["as_of"]),
            "parse_day": date.fromisoformat,
            "months": months,
            "status_label": lambda s: _status_label(s, lang, t),
            "funder_chart": funder_chart,
            "status_chart": status_chart,
        },
        title="fu_title",
        live_topics=TOPICS,
        after=after,
    )


def _status_label(status: str, lang: Any, t: dict[str, str]) -> str:
    """An application's status: the decisions' labels, and "submitted" (still to be decided)."""
    return t["fu_status_submitted"] if status == "submitted" else i18n.label(i18n.APPLICATION_DECISION, lang, status)


@router.get("/api/funding", summary="The funding's figures as JSON")
async def funding_json(request: Request, viewer: Viewer = Depends(signed_in)) -> JSONResponse:
    return JSONResponse(seen_by(await figures(pool_of(request), today()), viewer))
