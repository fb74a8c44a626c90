"""Award a grant: record it and announce it, once per Idempotency-Key of the caller's organisation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pydantic import TypeAdapter

from services.runtime.uow import UnitOfWork, once

from .. import events
from ..domain import Grant, GrantTerms
from ..repository import FundingRepository

SCOPE = "POST /grants"
_STORED_GRANT = TypeAdapter(Grant)  # a repetition's reply comes back as JSON: read it as the grant it was


@dataclass(frozen=True)
class AwardGrant:
    terms: GrantTerms
    idempotency_key: str | None = None


async def award_grant(uow: UnitOfWork[FundingRepository], command: AwardGrant) -> tuple[Grant, bool]:
    """Returns (the grant, created). A client retrying with the same key and terms gets the first
    grant back and nothing is recorded or announced again; the same key with other terms is
    refused (``Invalid``) rather than answered with a grant it did not ask for."""

    async def record() -> Grant:
        grant = Grant(
            grant_id=uuid.uuid4(), terms=command.terms, recorded_by=uow.actor, idempotency_key=command.idempotency_key
        )
        stored = await uow.repo.add_grant(grant)
        uow.emit(events.grant_awarded(grant), subject=events.grant_subject(grant.grant_id))
        return stored

    # ``once`` commits the key, the grant and its event together.
    reply, created = await once(uow, SCOPE, command.idempotency_key, command.terms.as_request(), record)
    return (reply if created else _STORED_GRANT.validate_python(reply)), created
