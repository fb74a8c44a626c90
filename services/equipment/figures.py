"""Stock and flow at any date, from the devices' histories: what was declared, received, wiped,
refurbished, allocated, delivered and disposed, by donor, recipient kind, public and commune,
and how long devices took from intake to delivery."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg

STAGES = ("declared", "received", "wiped", "failed", "refurbished", "allocated", "delivered", "returned", "disposed")

PER_DEVICE = """
WITH h AS (
    SELECT device_id, action, data, at FROM device_history WHERE at < $1
), latest_wipe AS (
    SELECT DISTINCT ON (device_id) device_id, data ->> 'state' AS state FROM h WHERE action = 'sanitised'
    ORDER BY device_id, at DESC
), last_delivery AS (
    SELECT DISTINCT ON (device_id) device_id, data ->> 'delivery_id' AS delivery_id FROM h WHERE action = 'delivered'
    ORDER BY device_id, at DESC
)
SELECT d.id, d.donor, d.kind,
       min(h.at) FILTER (WHERE h.action = 'declared') AS declared_at,
       min(h.at) FILTER (WHERE h.action = 'transferred' AND h.data ->> 'from' = d.donor) AS received_at,
       -- A device without storage media (a screen) has nothing to wipe: it counts as wiped.
       coalesce(w.state, CASE WHEN NOT EXISTS (SELECT 1 FROM media m WHERE m.device_id = d.id) THEN 'wiped' END)
           AS wipe_state,
       min(h.at) FILTER (WHERE h.action = 'refurbished') AS refurbished_at,
       min(h.at) FILTER (WHERE h.action = 'allocated') AS allocated_at,
       min(h.at) FILTER (WHERE h.action = 'delivered') AS delivered_at,
       count(*) FILTER (WHERE h.action = 'returned') AS returns,
       min(h.at) FILTER (WHERE h.action = 'disposed') AS disposed_at,
       (array_agg(h.action ORDER BY h.at DESC))[1] AS last_action,
       r.recipient_kind, r.public, r.commune
FROM devices d JOIN h ON h.device_id = d.id
LEFT JOIN latest_wipe w ON w.device_id = d.id
LEFT JOIN last_delivery ld ON ld.device_id = d.id
LEFT JOIN allocations a ON a.device_id = d.id AND a.delivery_id::text = ld.delivery_id
LEFT JOIN requests r ON r.id = a.request_id
GROUP BY d.id, w.state, r.recipient_kind, r.public, r.commune
"""


async def figures(conn: asyncpg.Connection | asyncpg.Pool, as_of: date) -> dict[str, Any]:
    cutoff = datetime.combine(as_of + timedelta(days=1), time.min, tzinfo=UTC)
    rows = await conn.fetch(PER_DEVICE, cutoff)
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


def _where(r: Any) -> str:
    """Where a device stands at the date: the stock is the sum of these."""
    if r["disposed_at"] is not None:
        return "disposed"
    if r["last_action"] == "delivered":
        return "with recipients"
    if r["last_action"] == "allocated":
        return "allocated, awaiting delivery"
    if r["received_at"] is None:
        return "with donors"
    if r["wipe_state"] in ("wiped", "destroyed") and r["refurbished_at"] is not None and r["last_action"] != "returned":
        return "ready to allocate"
    return "at refurbishers"
