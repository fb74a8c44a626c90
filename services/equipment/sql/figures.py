"""The SQL behind the stock-and-flow figures: every device's path through its history up to a date."""

from __future__ import annotations

from datetime import datetime

from .base import Queries, Row

# A device's history is in id order: the order its rows were written, each after the device's row
# was locked; ``at`` is its transaction's start, which two concurrent commands may invert.
PER_DEVICE = """
WITH h AS (
    SELECT id, device_id, action, custodian, data, at FROM device_history WHERE at < $1
), latest_wipe AS (
    -- A sanitisation record, or an inspection of its media, sets the device's state.
    SELECT DISTINCT ON (device_id) device_id, data ->> 'state' AS state FROM h
    WHERE action IN ('sanitised', 'media-inspected')
    ORDER BY device_id, id DESC
), last_delivery AS (
    SELECT DISTINCT ON (device_id) device_id, data ->> 'delivery_id' AS delivery_id FROM h WHERE action = 'delivered'
    ORDER BY device_id, id DESC
), paths AS (
    SELECT d.id, d.donor, d.kind,
           min(h.at) FILTER (WHERE h.action = 'declared') AS declared_at,
           min(h.at) FILTER (WHERE h.action = 'transferred' AND h.data ->> 'from' = d.donor) AS received_at,
           -- A device known to hold no storage (a screen) has nothing to wipe: it counts as wiped from
           -- its intake; one declared without storage counts from its inspection (latest_wipe).
           coalesce(w.state, CASE WHEN d.media_known
                                   AND NOT EXISTS (SELECT 1 FROM media m WHERE m.device_id = d.id)
                                   AND NOT EXISTS (SELECT 1 FROM device_history x
                                                   WHERE x.device_id = d.id AND x.action = 'media-inspected')
                                  THEN 'wiped' END) AS wipe_state,
           min(h.at) FILTER (WHERE h.action = 'refurbished') AS refurbished_at,
           min(h.at) FILTER (WHERE h.action = 'allocated') AS allocated_at,
           min(h.at) FILTER (WHERE h.action = 'delivered') AS delivered_at,
           count(*) FILTER (WHERE h.action = 'returned') AS returns,
           min(h.at) FILTER (WHERE h.action = 'disposed') AS disposed_at,
           (array_agg(h.action ORDER BY h.id DESC))[1] AS last_action,
           (array_agg(h.custodian ORDER BY h.id DESC))[1] AS holder,
           r.recipient_kind, r.public, r.commune
    FROM devices d JOIN h ON h.device_id = d.id
    LEFT JOIN latest_wipe w ON w.device_id = d.id
    LEFT JOIN last_delivery ld ON ld.device_id = d.id
    LEFT JOIN allocations a ON a.device_id = d.id AND a.delivery_id::text = ld.delivery_id
    LEFT JOIN requests r ON r.id = a.request_id
    GROUP BY d.id, w.state, r.recipient_kind, r.public, r.commune
)
SELECT p.*, o.kind AS holder_kind FROM paths p LEFT JOIN organisations o ON o.code = p.holder
"""


class FigureQueries(Queries):
    async def paths_until(self, cutoff: datetime) -> list[Row]:
        """Per device with history before ``cutoff``: when it reached each stage, its sanitisation
        state then, its last action, and where its last delivery went (see ``figures``)."""
        return [dict(r) for r in await self.db.fetch(PER_DEVICE, cutoff)]
