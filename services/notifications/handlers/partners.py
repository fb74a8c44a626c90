"""Partners and their subscriptions: managed by the Coordination over HTTP, seeded on first start."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.runtime.errors import NotFound
from services.runtime.uow import UnitOfWork

from ..domain import Partner, PartnerDetails
from ..repository import NotificationsRepository

SEED = Path(__file__).resolve().parent.parent / "seed" / "partners.json"


@dataclass(frozen=True)
class ReplaceSubscriptions:
    partner: str
    event_types: list[str]


async def save_partner(uow: UnitOfWork[NotificationsRepository], details: PartnerDetails) -> Partner:
    """Create or update a partner (its subscriptions stay); returns it as kept."""
    async with uow:
        await uow.repo.upsert_partner(details)
        return await _partner(uow, details.code)


async def replace_subscriptions(uow: UnitOfWork[NotificationsRepository], command: ReplaceSubscriptions) -> Partner:
    """Subscribe a known partner to exactly ``event_types``; returns it as kept."""
    async with uow:
        await _partner(uow, command.partner)
        await uow.repo.set_subscriptions(command.partner, command.event_types)
        return await _partner(uow, command.partner)


async def load_partners(uow: UnitOfWork[NotificationsRepository], doc: dict[str, Any]) -> int:
    """Seed partners on first start only: later, partners are managed over HTTP. Returns how many."""
    async with uow:
        if await uow.repo.has_partners():
            return 0
        for p in doc["partners"]:
            details = PartnerDetails(
                code=p["code"],
                name=p["name"],
                email=p["email"],
                language=p["language"],
                roles=frozenset(p.get("roles", [])),
                active=p.get("active", True),
            )
            await uow.repo.upsert_partner(details)
            await uow.repo.set_subscriptions(details.code, p["subscriptions"])
    return len(doc["partners"])


def read_seed() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(SEED.read_text(encoding="utf-8"))
    return doc


async def _partner(uow: UnitOfWork[NotificationsRepository], code: str) -> Partner:
    partner = await uow.repo.partner(code)
    if partner is None:
        raise NotFound(f"no partner {code}")
    return partner
