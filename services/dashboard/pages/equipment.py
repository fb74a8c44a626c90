"""Equipment: the funnel from declared to delivered, the refurbished stock by kind and grade, the
deliveries by recipient kind and commune, the follow-ups due, the donors and their batches.

Every figure is taken from the events with the equipment service's own definitions
(``services/equipment/figures.py`` and the SQL behind ``GET /figures``), at the end of ``as_of``
in Brussels as the service takes them. What each figure equals, and where the events cannot give
the service's figure:

- ``flow.declared``: devices of every ``BatchDeclared`` (each announces the devices it added) =
  ``GET /figures`` ``flow.declared``.
- ``flow.received``: devices of the ``DevicesTransferred`` out of their donor (the sender is the
  donor of every batch the transfer names) = ``flow.received``, but for a device that leaves its
  donor twice (returned to it, then sent again): the service counts it once, the events twice.
- ``flow.wiped`` / ``flow.failed``: devices whose latest ``DeviceSanitised`` says wiped or
  destroyed / failed, plus the screens declared with no ``DeviceSanitised`` (a screen is declared
  without storage: the service counts it wiped from its intake, and announces nothing) =
  ``flow.wiped`` / ``flow.failed``. A screen declared *with* storage and not wiped yet would be
  counted wiped here: ``BatchDeclared`` gives counts by kind, not the storage declared.
- ``flow.refurbished``: devices with a ``DeviceConditionChanged`` to ``refurbished`` =
  ``flow.refurbished``.
- ``flow.allocated``: devices of every ``DevicesAllocated`` = ``flow.allocated``, but for a device
  allocated twice (released, or returned, then allocated anew): the events carry counts, not the
  devices, so it counts twice here.
- ``flow.delivered``: devices of every ``DevicesDelivered``. ``GET /figures`` counts only the
  devices tracked one by one; the count-only deliveries (``POST /deliveries``) are announced with
  the same event and cannot be told apart, so this is ``flow.delivered`` plus those (and a device
  delivered twice counts twice).
- ``flow.returned``: devices with a ``DeviceReturned`` = ``flow.returned``.
- ``flow.disposed``: devices with a ``DeviceDisposed`` or a ``DeviceConditionChanged`` to
  ``disposed`` = ``flow.disposed``.
- ``stock``: devices whose latest condition is ``refurbished`` (with its grade), sanitised (wiped
  or destroyed; a screen with no ``DeviceSanitised``) and not disposed, by kind and grade = the
  count of ``GET /devices?physical=refurbished&sanitisation=wiped`` (and ``destroyed``) by kind and
  grade. It includes the devices allocated or delivered since: an allocation names no device, so
  the service's stock by place ("ready to allocate", "allocated, awaiting delivery"…) cannot be
  derived; ``allocated_by_kind`` and ``delivered_by_kind`` (sums of the events) are shown beside.
- ``delivered_by``: devices of the ``DevicesDelivered`` by recipient kind and by commune
  ("unknown" when the event has none), and ``deliveries`` the deliveries they make. ``GET
  /figures`` ``delivered_by`` counts the tracked devices whose last action is their delivery (not
  returned since); these are every delivery announced, count-only ones included.
- ``follow_ups``: the latest ``DeliveryFollowUpDue`` of each delivery (the service announces one
  every six months after a handover; nothing announces that a check was done).
- ``by_donor``: the stages above per donor, as ``GET /figures`` ``by_donor``, but for
  ``allocated`` (``DevicesAllocated`` names no donor) and ``returned`` (``DeviceReturned`` names
  none): both left out. ``batches``: each batch's declared devices, its devices wiped, failed and
  refurbished (the per-device events name their batch) and the milestones it reached
  (``BatchMilestoneReached``, with the counts the service gave then).
- The intake-to-delivery time (``intake_to_delivery_days``) needs each device's dates: not shown.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse
from passerelle_contracts import equipment_v1, i18n

from services.runtime.db import Executor
from services.runtime.http import api_router
from services.runtime.inputs import BRUSSELS

from .. import charts, feed, texts
from ..viewers import Viewer, signed_in
from ..web import language, pool_of, render, today

TOPICS = (equipment_v1.TOPIC,)
STAGES = ("declared", "received", "wiped", "failed", "refurbished", "allocated", "delivered", "returned", "disposed")
FUNNEL = ("declared", "received", "wiped", "failed", "refurbished", "allocated", "delivered")
DONOR_STAGES = ("declared", "received", "wiped", "failed", "refurbished", "delivered", "disposed")
NO_STORAGE_KINDS = ("screen",)  # declared without storage: wiped from intake (the service's rule)
SANITISED = ("wiped", "destroyed")
UNKNOWN = "unknown"

texts.register(
    {
        "fr": {
            "eq_title": "Équipement : du don à la livraison",
            "eq_funnel": "Du don à la livraison",
            "eq_funnel_help": "Appareils ayant atteint chaque étape, jusqu'au {day} inclus.",
            "eq_step": "Étape",
            "eq_devices": "Appareils",
            "eq_step_declared": "déclarés",
            "eq_step_received": "reçus",
            "eq_step_wiped": "effacés",
            "eq_step_failed": "effacement échoué",
            "eq_step_refurbished": "reconditionnés",
            "eq_step_allocated": "attribués",
            "eq_step_delivered": "livrés",
            "eq_step_returned": "revenus",
            "eq_step_disposed": "recyclés",
            "eq_delivered_note": "Les livraisons comptent aussi celles déclarées sans suivi appareil par appareil.",
            "eq_stock": "Stock reconditionné par type et par grade",
            "eq_stock_help": "Appareils reconditionnés et effacés, y compris ceux attribués ou livrés depuis : "
            "une attribution ne dit pas quels appareils elle prend.",
            "eq_kind": "Type d'appareil",
            "eq_grade": "Grade",
            "eq_grade_n": "grade {grade}",
            "eq_by_kind": "Par type d'appareil",
            "eq_stock_total": "Reconditionnés et effacés",
            "eq_deliveries": "Livraisons",
            "eq_deliveries_count": "{n} livraisons",
            "eq_by_recipient_kind": "Appareils livrés par type de destinataire",
            "eq_recipient_kind": "Type de destinataire",
            "eq_by_commune": "Appareils livrés par commune",
            "eq_commune": "Commune",
            "eq_unknown": "non précisé",
            "eq_follow_ups": "Suivis à faire",
            "eq_follow_ups_help": "Six mois (ou un multiple) après une livraison : vérifier que les appareils servent.",
            "eq_delivery": "Livraison",
            "eq_recipient": "Destinataire",
            "eq_delivered_on": "Livrée le",
            "eq_due_on": "Suivi dû le",
            "eq_donors": "Donateurs",
            "eq_donor": "Donateur",
            "eq_batches": "Lots des donateurs",
            "eq_batch": "Lot",
            "eq_reference": "Référence",
            "eq_milestones": "Étapes atteintes",
        },
        "nl": {
            "eq_title": "Uitrusting: van schenking tot levering",
            "eq_funnel": "Van schenking tot levering",
            "eq_funnel_help": "Toestellen die elke stap bereikten, tot en met {day}.",
            "eq_step": "Stap",
            "eq_devices": "Toestellen",
            "eq_step_declared": "aangegeven",
            "eq_step_received": "ontvangen",
            "eq_step_wiped": "gewist",
            "eq_step_failed": "wissing mislukt",
            "eq_step_refurbished": "gereviseerd",
            "eq_step_allocated": "toegewezen",
            "eq_step_delivered": "geleverd",
            "eq_step_returned": "teruggekomen",
            "eq_step_disposed": "gerecycleerd",
            "eq_delivered_note": "De leveringen omvatten ook die zonder opvolging per toestel zijn aangegeven.",
            "eq_stock": "Gereviseerde voorraad per soort en klasse",
            "eq_stock_help": "Gereviseerde en gewiste toestellen, ook die sindsdien toegewezen of geleverd: "
            "een toewijzing zegt niet welke toestellen ze neemt.",
            "eq_kind": "Soort toestel",
            "eq_grade": "Klasse",
            "eq_grade_n": "klasse {grade}",
            "eq_by_kind": "Per soort toestel",
            "eq_stock_total": "Gereviseerd en gewist",
            "eq_deliveries": "Leveringen",
            "eq_deliveries_count": "{n} leveringen",
            "eq_by_recipient_kind": "Geleverde toestellen per soort ontvanger",
            "eq_recipient_kind": "Soort ontvanger",
            "eq_by_commune": "Geleverde toestellen per gemeente",
            "eq_commune": "Gemeente",
            "eq_unknown": "niet vermeld",
            "eq_follow_ups": "Op te volgen",
            "eq_follow_ups_help": "Zes maanden (of een veelvoud) na een levering: nagaan of de toestellen gebruikt worden.",
            "eq_delivery": "Levering",
            "eq_recipient": "Ontvanger",
            "eq_delivered_on": "Geleverd op",
            "eq_due_on": "Opvolging op",
            "eq_donors": "Schenkers",
            "eq_donor": "Schenker",
            "eq_batches": "Loten van de schenkers",
            "eq_batch": "Lot",
            "eq_reference": "Referentie",
            "eq_milestones": "Bereikte stappen",
        },
    }
)


def cutoff(as_of: date) -> datetime:
    """The end of ``as_of`` in Brussels: the figures at a date include that whole day (the
    equipment service's ``figures.cutoff``)."""
    return datetime.combine(as_of + timedelta(days=1), time.min, tzinfo=BRUSSELS)


# Each device's state from its own events before the cutoff: its latest sanitisation, its latest
# condition (with its grade), and whether it was ever refurbished, returned, disposed.
DEVICES = """
WITH e AS (
    SELECT * FROM eq_device_events WHERE occurred_at < $1
), wipe AS (
    SELECT DISTINCT ON (device_id) device_id, sanitisation FROM e WHERE event_type = 'DeviceSanitised'
    ORDER BY device_id, seq DESC
), cond AS (
    SELECT DISTINCT ON (device_id) device_id, physical, grade FROM e WHERE event_type = 'DeviceConditionChanged'
    ORDER BY device_id, seq DESC
), d AS (
    SELECT device_id,
           (array_agg(kind ORDER BY seq DESC))[1] AS kind,
           (array_agg(donor ORDER BY seq DESC) FILTER (WHERE donor IS NOT NULL))[1] AS donor,
           (array_agg(batch_id ORDER BY seq DESC) FILTER (WHERE batch_id IS NOT NULL))[1] AS batch_id,
           bool_or(event_type = 'DeviceConditionChanged' AND physical = 'refurbished') AS refurbished,
           bool_or(event_type = 'DeviceReturned') AS returned,
           bool_or(physical = 'disposed') AS disposed
    FROM e GROUP BY device_id
)
SELECT d.*, wipe.sanitisation, cond.physical, cond.grade
FROM d LEFT JOIN wipe USING (device_id) LEFT JOIN cond USING (device_id)
"""

# Transfers out of the donor: the sender is the donor of every batch the transfer names.
RECEIVED = """
SELECT t.from_org AS donor, sum(t.total) AS devices FROM eq_transfers t
WHERE t.occurred_at < $1
  AND (SELECT bool_and(d.donor = t.from_org) FROM eq_declarations d WHERE d.batch_id = ANY (t.batches))
GROUP BY t.from_org
"""


def _kinds(rows: list[Any], column: str = "devices") -> Counter[str]:
    out: Counter[str] = Counter()
    for r in rows:
        out.update({k: int(v) for k, v in r[column].items()})
    return out


async def figures(db: Executor, as_of: date) -> dict[str, Any]:
    """The equipment's figures at the end of ``as_of`` (Brussels), from the events alone."""
    end = cutoff(as_of)
    declarations = await db.fetch(
        "SELECT batch_id, donor, reference, devices, total FROM eq_declarations WHERE occurred_at < $1", end
    )
    received = {r["donor"]: int(r["devices"]) for r in await db.fetch(RECEIVED, end)}
    devices = await db.fetch(DEVICES, end)
    allocations = await db.fetch("SELECT devices, total FROM eq_allocations WHERE occurred_at < $1", end)
    deliveries = await db.fetch(
        """SELECT delivery_id, recipient_kind, donor, commune, devices, total FROM eq_deliveries
           WHERE occurred_at < $1""",
        end,
    )

    by_donor: dict[str, Counter[str]] = defaultdict(Counter)
    by_batch: dict[str, dict[str, Any]] = {}
    declared_screens: Counter[str] = Counter()  # by donor
    batch_screens: Counter[str] = Counter()  # by batch
    for r in declarations:
        by_donor[r["donor"]]["declared"] += r["total"]
        screens = sum(int(r["devices"].get(k, 0)) for k in NO_STORAGE_KINDS)
        declared_screens[r["donor"]] += screens
        batch_screens[r["batch_id"]] += screens
        batch = by_batch.setdefault(
            r["batch_id"],
            {"batch_id": r["batch_id"], "donor": r["donor"], "reference": r["reference"], **dict.fromkeys(STAGES, 0)},
        )
        batch["declared"] += r["total"]
    for donor, n in received.items():
        by_donor[donor]["received"] += n

    stock: Counter[tuple[str, str]] = Counter()
    screens_with_events: Counter[str] = Counter()  # by donor
    for d in devices:
        donor = d["donor"] or UNKNOWN
        reached = {
            "wiped": d["sanitisation"] in SANITISED,
            "failed": d["sanitisation"] == "failed",
            "refurbished": bool(d["refurbished"]),
            "returned": bool(d["returned"]),
            "disposed": bool(d["disposed"]),
        }
        if d["kind"] in NO_STORAGE_KINDS and d["sanitisation"] is not None:
            screens_with_events[donor] += 1
            if d["batch_id"]:
                batch_screens[d["batch_id"]] -= 1
        for stage, yes in reached.items():
            if yes:
                by_donor[donor][stage] += 1
                if d["batch_id"] in by_batch:
                    by_batch[d["batch_id"]][stage] += 1
        sanitised = d["sanitisation"] in SANITISED or (d["sanitisation"] is None and d["kind"] in NO_STORAGE_KINDS)
        if d["physical"] == "refurbished" and sanitised and not d["disposed"]:
            stock[(d["kind"], d["grade"] or UNKNOWN)] += 1
    # Screens declared with no sanitisation event count as wiped from their intake.
    for donor, n in declared_screens.items():
        by_donor[donor]["wiped"] += max(n - screens_with_events[donor], 0)
    for batch_id, n in batch_screens.items():
        if batch_id in by_batch:
            by_batch[batch_id]["wiped"] += max(n, 0)
    for d in deliveries:
        if d["donor"]:
            by_donor[d["donor"]]["delivered"] += d["total"]

    flow = {stage: sum(c[stage] for c in by_donor.values()) for stage in STAGES}
    flow["allocated"] = sum(r["total"] for r in allocations)
    flow["delivered"] = sum(r["total"] for r in deliveries)

    recipient_kind: Counter[str] = Counter()
    commune: Counter[str] = Counter()
    for d in deliveries:
        recipient_kind[d["recipient_kind"]] += d["total"]
        commune[d["commune"] or UNKNOWN] += d["total"]

    follow_ups = [
        {
            "delivery_id": r["delivery_id"],
            "recipient": r["recipient"],
            "delivered_on": r["delivered_on"].isoformat(),
            "due_on": r["due_on"].isoformat(),
            "devices": r["devices"],
        }
        for r in await db.fetch(
            """SELECT * FROM (SELECT DISTINCT ON (delivery_id) delivery_id, recipient, delivered_on, due_on, devices
                              FROM eq_follow_ups WHERE occurred_at < $1 AND due_on <= $2
                              ORDER BY delivery_id, due_on DESC) latest
               ORDER BY due_on, delivery_id""",
            end,
            as_of,
        )
    ]
    milestones: dict[str, list[str]] = defaultdict(list)
    for r in await db.fetch(
        "SELECT batch_id, milestone FROM eq_batch_milestones WHERE occurred_at < $1 ORDER BY occurred_at, milestone",
        end,
    ):
        milestones[r["batch_id"]].append(r["milestone"])

    return {
        "as_of": as_of.isoformat(),
        "flow": flow,
        "stock": [{"kind": kind, "grade": grade, "devices": n} for (kind, grade), n in sorted(stock.items())],
        "allocated_by_kind": dict(sorted(_kinds(allocations).items())),
        "delivered_by_kind": dict(sorted(_kinds(deliveries).items())),
        "deliveries": len({d["delivery_id"] for d in deliveries}),
        "delivered_by": {
            "recipient_kind": dict(sorted(recipient_kind.items())),
            "commune": dict(sorted(commune.items())),
        },
        "follow_ups": follow_ups,
        "by_donor": {
            donor: {s: c.get(s, 0) for s in DONOR_STAGES} for donor, c in sorted(by_donor.items()) if donor != UNKNOWN
        },
        "batches": [
            {
                **{k: b[k] for k in ("batch_id", "donor", "reference", "declared", "wiped", "failed", "refurbished")},
                "milestones": milestones.get(b["batch_id"], []),
            }
            for b in sorted(by_batch.values(), key=lambda b: (b["donor"], b["reference"], b["batch_id"]))
        ],
    }


def _stock_rows(f: dict[str, Any]) -> list[dict[str, Any]]:
    """The stock's kinds with their grades, and the allocated and delivered devices of each kind."""
    kinds = sorted({s["kind"] for s in f["stock"]} | set(f["allocated_by_kind"]) | set(f["delivered_by_kind"]))
    return [
        {
            "kind": kind,
            "grades": {s["grade"]: s["devices"] for s in f["stock"] if s["kind"] == kind},
            "refurbished": sum(s["devices"] for s in f["stock"] if s["kind"] == kind),
            "allocated": f["allocated_by_kind"].get(kind, 0),
            "delivered": f["delivered_by_kind"].get(kind, 0),
        }
        for kind in kinds
    ]


def seen_by(f: dict[str, Any], viewer: Viewer) -> dict[str, Any]:
    """The figures as ``viewer`` may read them through the equipment service's own API: the public
    figures (``GET /figures``: the flow, the stock, by donor, recipient kind and commune) for every
    key; a donor's batches and a recipient's follow-ups only for the organisation concerned (and the
    Coordination and operators), as ``GET /batches`` and ``GET /deliveries`` scope them."""
    if viewer.is_operator:
        return f
    return {
        **f,
        "batches": [b for b in f["batches"] if b["donor"] == viewer.organisation],
        "follow_ups": [u for u in f["follow_ups"] if u["recipient"] == viewer.organisation],
    }


router = api_router()


@router.get("/equipment", response_class=HTMLResponse, summary="Equipment: funnel, stock, deliveries, follow-ups")
async def equipment_page(request: Request, viewer: Viewer = Depends(signed_in)) -> HTMLResponse:
    after = await feed.latest(pool_of(request))  # before the figures: see web.render
    f = seen_by(await figures(pool_of(request), today()), viewer)
    lang = language(request)
    t = texts.all_texts(lang)
    funnel = [(t[f"eq_step_{s}"], float(f["flow"][s])) for s in FUNNEL]
    return render(
        request,
        viewer,
        "equipment.html",
        {
            "f": f,
            "as_of": date.fromisoformat(f["as_of"]),
            "parse_day": date.fromisoformat,
            "stages": STAGES,
            "donor_stages": DONOR_STAGES,
            "grades": sorted({s["grade"] for s in f["stock"]}),
            "stock_rows": _stock_rows(f),
            "funnel_chart": charts.bars(funnel, t["eq_funnel"]),
            "kind_chart": charts.bars(
                [
                    (i18n.label(i18n.RECIPIENT_KIND, lang, k), float(n))
                    for k, n in f["delivered_by"]["recipient_kind"].items()
                ],
                t["eq_by_recipient_kind"],
            ),
        },
        title="eq_title",
        live_topics=TOPICS,
        after=after,
    )


@router.get("/api/equipment", summary="The equipment's figures as JSON")
async def equipment_json(request: Request, viewer: Viewer = Depends(signed_in)) -> JSONResponse:
    return JSONResponse(seen_by(await figures(pool_of(request), today()), viewer))
