"""The equipment domain, without I/O: a device's state derived from its history, the
sanitisation rule, and the allocation of a stock to requests under caps.

A device's state has three independent dimensions (as eReuse DeviceHub and Snipe-IT keep them):
physical (received, to_repair, refurbished, for_parts, disposed), data sanitisation (pending,
wiped, failed, destroyed) and allocation (available, reserved, allocated, delivered, returned).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from services.runtime.errors import Conflict

# The physical and sanitisation states and the grades are the contracts' vocabulary
# (``passerelle_contracts.common``: PhysicalState, SanitisationState, Grade).
ALLOCATION = ("available", "reserved", "allocated", "delivered", "returned")
METHODS = ("clear", "purge", "destroy")
RESULTS = ("passed", "failed", "passed_with_warnings")

# Physical moves a refurbisher may record.
PHYSICAL_MOVES: dict[str, frozenset[str]] = {
    "received": frozenset({"to_repair", "refurbished", "for_parts", "disposed"}),
    "to_repair": frozenset({"refurbished", "for_parts", "disposed"}),
    "refurbished": frozenset({"to_repair", "for_parts", "disposed"}),
    "for_parts": frozenset({"disposed"}),
    "disposed": frozenset(),
}


class SanitisationRequired(Conflict):
    code = "sanitisation-required"


class InvalidMove(Conflict):
    code = "invalid-transition"


@dataclass(frozen=True)
class WipeRecord:
    """One NIST SP 800-88 sanitisation record of one storage medium."""

    medium_id: str
    method: str  # clear | purge | destroy
    result: str  # passed | failed | passed_with_warnings
    ended_at_order: int = 0  # the record's position in the device history (later wins)

    @property
    def passing(self) -> bool:
        # "Passed with warnings" (e.g. hidden areas not erased) is not a pass: the data may remain.
        return self.result == "passed"


def sanitisation_state(media: Sequence[str], records: Iterable[WipeRecord]) -> str:
    """pending / wiped / failed / destroyed, from the latest record of every medium.

    A device without storage media (a screen) needs no sanitisation: it counts as wiped.
    """
    latest: dict[str, WipeRecord] = {}
    for record in sorted(records, key=lambda r: r.ended_at_order):
        latest[record.medium_id] = record
    if not media:
        return "wiped"
    last = [latest.get(m) for m in media]
    if any(r is not None and not r.passing for r in last):
        return "failed"
    if any(r is None for r in last):
        return "pending"
    if all(r is not None and r.method == "destroy" for r in last):
        return "destroyed"
    return "wiped"


def unwiped_media(media: Sequence[str], records: Iterable[WipeRecord]) -> list[str]:
    """The media whose latest record is not a pass (or that have none)."""
    latest: dict[str, WipeRecord] = {}
    for record in sorted(records, key=lambda r: r.ended_at_order):
        latest[record.medium_id] = record
    return [m for m in media if m not in latest or not latest[m].passing]


def require_sanitised(device_id: str, media: Sequence[str], records: Iterable[WipeRecord]) -> None:
    """The rule: no allocation or delivery unless every storage medium has a passing record."""
    missing = unwiped_media(media, records)
    if missing:
        raise SanitisationRequired(
            f"device {device_id} cannot be allocated or delivered: no passing sanitisation for medium "
            + ", ".join(missing)
        )


def physical_move(device_id: str, current: str, new: str) -> None:
    if new not in PHYSICAL_MOVES[current]:
        allowed = ", ".join(sorted(PHYSICAL_MOVES[current])) or "none"
        raise InvalidMove(f"device {device_id} is {current}: it cannot become {new} (allowed: {allowed})")


# --- allocation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    id: str
    recipient: str
    recipient_kind: str
    granted: dict[str, int]  # device kind -> how many the review accepted
    already: dict[str, int]  # device kind -> how many were allocated before
    submitted_on: date
    priority: int = 0  # higher first (e.g. schools with a disadvantaged public)


@dataclass(frozen=True)
class Device:
    id: str
    kind: str
    grade: str | None


@dataclass
class Proposal:
    """What an allocation run would do: device ids per request, and what stays unmet."""

    allocations: dict[str, list[str]] = field(default_factory=dict)
    unmet: dict[str, dict[str, int]] = field(default_factory=dict)  # request -> kind -> missing
    capped: dict[str, dict[str, int]] = field(default_factory=dict)  # request -> kind -> held back by a cap


def allocate(
    requests: Sequence[Request],
    stock: Sequence[Device],
    caps: dict[str, dict[str, int]],
    used: dict[str, dict[str, int]],
) -> Proposal:
    """Allocate a stock of available, sanitised devices to accepted requests.

    Order: higher priority first, then the longest waiting (submitted earliest), then request id,
    so the result is deterministic. A recipient kind's cap for the period (``caps[kind][device
    kind]``, counting what ``used`` already holds) is never exceeded; what a cap or the stock
    leaves unmet stays on the waiting list. Better grades go first.
    """
    pools: dict[str, list[Device]] = {}
    for device in sorted(stock, key=lambda d: (d.grade or "Z", d.id)):
        pools.setdefault(device.kind, []).append(device)
    taken = {k: dict(v) for k, v in used.items()}
    proposal = Proposal()
    for request in sorted(requests, key=lambda r: (-r.priority, r.submitted_on, r.id)):
        for kind, granted in sorted(request.granted.items()):
            wanted = max(granted - request.already.get(kind, 0), 0)
            if not wanted:
                continue
            cap = caps.get(request.recipient_kind, {}).get(kind)
            room = wanted if cap is None else max(min(wanted, cap - taken.get(request.recipient_kind, {}).get(kind, 0)), 0)
            available = pools.get(kind, [])
            given = available[:room]
            pools[kind] = available[room:]
            if given:
                proposal.allocations.setdefault(request.id, []).extend(d.id for d in given)
                kind_taken = taken.setdefault(request.recipient_kind, {})
                kind_taken[kind] = kind_taken.get(kind, 0) + len(given)
            if room < wanted:
                proposal.capped.setdefault(request.id, {})[kind] = wanted - room
            if len(given) < wanted:
                proposal.unmet.setdefault(request.id, {})[kind] = wanted - len(given)
    return proposal
