"""Stock and flow at any date, from the devices' histories: what was declared, received, wiped,
refurbished, allocated, delivered and disposed, by donor, recipient kind, public and commune,
and how long devices took from intake to delivery. Pure: the repository reads the paths."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from passerelle_contracts.common import RECIPIENT_KINDS

from services.runtime.inputs import BRUSSELS

STAGES = ("declared", "received", "wiped", "failed", "refurbished", "allocated", "delivered", "returned", "disposed")


def cutoff(as_of: date) -> datetime:
    """The end of ``as_of`` in Brussels (the next day's midnight there): the figures at a date
    include that whole day, as the day "today" is (``services.runtime.inputs.brussels_today``)."""
    return datetime.combine(as_of + timedelta(days=1), time.min, tzinfo=BRUSSELS)


def figures(rows: Iterable[Mapping[str, Any]], as_of: date) -> dict[str, Any]:
    """The figures from every device's path until the cutoff (``EquipmentRepository.paths_until``)."""
    flow: Counter[str] = Counter()
    by_donor: dict[str, Counter[str]] = defaultdict(Counter)
    delivered_by: dict[str, Counter[str]] = {"recipient_kind": Counter(), "public": Counter(), "commune": Counter()}
    stock: Counter[str] = Counter()
    days: list[float] = []
    for r in rows:
        reached = {
            "declared": r["declared_at"] is not None,
            "received": r["received_at"] is not None,
            "wiped": r["wipe_state"] in ("wiped", "destroyed"),
            "failed": r["wipe_state"] == "failed",
            "refurbished": r["refurbished_at"] is not None,
            "allocated": r["allocated_at"] is not None,
            "delivered": r["delivered_at"] is not None,
            "returned": r["returns"] > 0,
            "disposed": r["disposed_at"] is not None,
        }
        for stage, yes in reached.items():
            if yes:
                flow[stage] += 1
                by_donor[r["donor"]][stage] += 1
        if r["last_action"] == "delivered":
            for key in delivered_by:
                delivered_by[key][r[key] or "unknown"] += 1
            days.append((r["delivered_at"] - r["declared_at"]).total_seconds() / 86400)
        stock[_where(r)] += 1
    return {
        "as_of": as_of,
        "flow": {s: flow.get(s, 0) for s in STAGES},
        "stock": dict(sorted(stock.items())),
        "by_donor": {donor: {s: c.get(s, 0) for s in STAGES} for donor, c in sorted(by_donor.items())},
        "delivered_by": {k: dict(sorted(v.items())) for k, v in delivered_by.items()},
        "intake_to_delivery_days": {
            "devices": len(days),
            "median": round(statistics.median(days), 1) if days else None,
            "mean": round(statistics.fmean(days), 1) if days else None,
        },
    }


def _where(r: Mapping[str, Any]) -> str:
    """Where a device stands at the date: the stock is the sum of these."""
    if r["disposed_at"] is not None:
        return "disposed"
    if r["last_action"] == "delivered" or r.get("holder_kind") in RECIPIENT_KINDS:
        return "with recipients"  # acknowledged deliveries, and custody transferred to a recipient
    if r["last_action"] == "allocated":
        return "allocated, awaiting delivery"
    if r["received_at"] is None:
        return "with donors"
    if r["wipe_state"] in ("wiped", "destroyed") and r["refurbished_at"] is not None and r["last_action"] != "returned":
        return "ready to allocate"
    return "at refurbishers"
