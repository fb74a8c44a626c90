"""Contacts, their subscriptions and preferences, webhook secrets and the in-app feed: managed by
the contact's organisation with its own key (self-service), or by the Coordination."""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query, Request
from passerelle_contracts import Actor
from passerelle_contracts.common import Language
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, WithJsonSchema, model_validator

from services.runtime.auth import require
from services.runtime.errors import NotFound
from services.runtime.http import api_router, repository, unit_of_work
from services.runtime.inputs import Code, Flag, Line
from services.runtime.uow import UnitOfWork

from .. import audience, smtp
from ..audience import Frequency
from ..domain import Contact, ContactDetails, Subscription
from ..handlers import contacts
from ..rendering import SUBSCRIBABLE
from ..repository import NotificationsRepository

router = api_router(tags=["contacts"])
Uow = UnitOfWork[NotificationsRepository]
Writer = Depends(unit_of_work())  # any key that writes; the use case checks the organisation
Reader = Depends(require())
ContactId = Annotated[int, Path(ge=1, le=2**62, description="The contact's number")]
PartnerCode = Annotated[Code, Path(description="The organisation's code")]

EventType = Literal[SUBSCRIBABLE]  # type: ignore[valid-type]  # the subscribable types, known when the module loads
Topic = Literal[(audience.ALL_TOPICS, *SUBSCRIBABLE, *audience.DIGEST_TOPICS.values())]  # type: ignore[valid-type]  # known at import


def _bare(value: str) -> str:
    if not smtp.is_bare_address(value):
        raise ValueError("one address, as someone@example.org (no name, no list, no brackets)")
    return value


Email = Annotated[
    str,
    Field(pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+$", max_length=254, description="A work address"),
    AfterValidator(_bare),
]


CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$")


def _clock(value: Any) -> Any:
    """``HH:MM`` or ``HH:MM:SS``, Brussels wall-clock time: no offset, nothing else."""
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not CLOCK.match(value):
        raise ValueError("a time of day is HH:MM or HH:MM:SS (Brussels time, no offset)")
    return time.fromisoformat(value)


CLOCK_SCHEMA = {"type": "string", "pattern": CLOCK.pattern, "maxLength": 8}
ClockTime = Annotated[time, BeforeValidator(_clock), WithJsonSchema(CLOCK_SCHEMA)]
"""A time of day, Brussels time (quiet hours): ``19:00``."""
MAX_SUBSCRIPTIONS = 200
MAX_FILTER_VALUES = 100


class ContactIn(BaseModel):
    kind: Literal["person", "webhook"] = "person"
    name: Line | None = Field(default=None, description="The person's name (personal data: kept here alone)")
    email: Email | None = None
    webhook_url: Annotated[str, Field(max_length=2000)] | None = None
    language: Language
    channels: list[Literal["email", "feed"]] = Field(default=["email", "feed"], max_length=2)
    quiet_from: ClockTime | None = Field(default=None, description="Quiet hours start (Brussels time), e.g. 19:00")
    quiet_until: ClockTime | None = Field(default=None, description="Quiet hours end (Brussels time), e.g. 08:00")
    active: Flag = True

    @model_validator(mode="after")
    def _quiet_hours_both_or_none(self) -> ContactIn:
        if (self.quiet_from is None) != (self.quiet_until is None):
            raise ValueError("quiet_from and quiet_until go together")
        return self

    def details(self, kind: Literal["person", "mailbox", "webhook"] | None = None) -> ContactDetails:
        return ContactDetails(
            kind=kind or self.kind,
            language=self.language,
            name=self.name,
            email=self.email,
            webhook_url=self.webhook_url,
            channels=tuple(dict.fromkeys(self.channels)),
            quiet_from=self.quiet_from,
            quiet_until=self.quiet_until,
            active=self.active,
        )


class ContactOut(BaseModel):
    id: int
    partner: str
    kind: str
    name: str | None
    email: str | None
    webhook_url: str | None
    language: Language
    channels: list[str]
    quiet_from: ClockTime | None
    quiet_until: ClockTime | None
    active: bool
    hard_bounces: int
    suspended_at: datetime | None
    suspended_reason: str | None


class NewContactOut(ContactOut):
    webhook_secret: str | None = Field(
        default=None, description="A webhook's signing secret: shown once, keep it (rotate it if lost)"
    )


FilterValues = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=64)]], Field(min_length=1, max_length=MAX_FILTER_VALUES)
]


class Filters(BaseModel):
    model_config = {"extra": "forbid"}

    axis: FilterValues | None = None
    chantier: FilterValues | None = None
    action: FilterValues | None = None
    organisation: FilterValues | None = None
    commune: FilterValues | None = None
    epn: FilterValues | None = None
    call: FilterValues | None = None


class SubscriptionIn(BaseModel):
    event_type: EventType
    filters: Filters = Filters()


class SubscriptionsIn(BaseModel):
    subscriptions: list[SubscriptionIn] = Field(max_length=MAX_SUBSCRIPTIONS)


class Preference(BaseModel):
    topic: Topic = Field(description="An event type, '*' for every one, or a digest: digest:daily …")  # type: ignore[valid-type]  # see Topic
    channel: Literal["email", "feed", "webhook"]
    frequency: Literal["immediate", "daily", "weekly", "off"]


class PreferencesIn(BaseModel):
    preferences: list[Preference] = Field(max_length=MAX_SUBSCRIPTIONS)


class FeedRead(BaseModel):
    ids: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(min_length=1, max_length=500)


def reply(c: Contact) -> dict[str, Any]:
    d = c.details
    return {
        "id": c.id,
        "partner": c.partner_code,
        "kind": d.kind,
        "name": d.name,
        "email": d.email,
        "webhook_url": d.webhook_url,
        "language": d.language,
        "channels": list(d.channels),
        "quiet_from": d.quiet_from,
        "quiet_until": d.quiet_until,
        "active": d.active,
        "hard_bounces": c.hard_bounces,
        "suspended_at": c.suspended_at,
        "suspended_reason": c.suspended_reason,
    }


def subscriptions_reply(found: list[Subscription]) -> list[dict[str, Any]]:
    return [{"event_type": s.event_type, "filters": {k: list(v) for k, v in s.filters.items()}} for s in found]


def preferences_reply(found: dict[tuple[str, str], Frequency]) -> list[dict[str, str]]:
    return [{"topic": t, "channel": c, "frequency": f} for (t, c), f in sorted(found.items())]


@router.get(
    "/partners/{code}/contacts",
    response_model=list[ContactOut],
    summary="An organisation's contacts (its own key, or the Coordination's)",
)
async def list_contacts(
    code: PartnerCode, actor: Actor = Reader, repo: NotificationsRepository = Depends(repository)
) -> list[dict[str, Any]]:
    if not contacts.may_manage(actor, code):
        raise NotFound(f"no partner {code}")
    return [reply(c) for c in await repo.contacts(code)]


@router.post(
    "/partners/{code}/contacts",
    status_code=201,
    response_model=NewContactOut,
    summary="Add a contact: a person (e-mail, feed) or a webhook (its signing secret is shown once)",
)
async def post_contact(code: PartnerCode, body: ContactIn, request: Request, uow: Uow = Writer) -> dict[str, Any]:
    loopback = request.app.state.runtime.settings.webhook_allow_loopback
    contact, secret = await contacts.add_contact(uow, code, body.details(), allow_loopback=loopback)
    return {**reply(contact), "webhook_secret": secret}


@router.get("/contacts/{contact}", response_model=ContactOut, summary="One contact")
async def get_contact(
    contact: ContactId, actor: Actor = Reader, repo: NotificationsRepository = Depends(repository)
) -> dict[str, Any]:
    return reply(await contacts.owned(repo, actor, contact))


@router.put(
    "/contacts/{contact}", response_model=ContactOut, summary="Change a contact (a new address lifts a suspension)"
)
async def put_contact(contact: ContactId, body: ContactIn, request: Request, uow: Uow = Writer) -> dict[str, Any]:
    current = await contacts.owned(uow.repo, uow.actor, contact)
    kind = "mailbox" if current.details.kind == "mailbox" else body.kind
    loopback = request.app.state.runtime.settings.webhook_allow_loopback
    return reply(await contacts.change_contact(uow, contact, body.details(kind), allow_loopback=loopback))


@router.delete(
    "/contacts/{contact}",
    summary="Erase a contact on request: its details go, its messages stay in the log anonymised",
)
async def delete_contact(contact: ContactId, uow: Uow = Writer) -> dict[str, Any]:
    return {"erased": contact, "messages_anonymised": await contacts.erase_contact(uow, contact)}


@router.get("/contacts/{contact}/subscriptions", summary="What a contact follows, with its filters")
async def get_subscriptions(
    contact: ContactId, actor: Actor = Reader, repo: NotificationsRepository = Depends(repository)
) -> list[dict[str, Any]]:
    await contacts.owned(repo, actor, contact)
    return subscriptions_reply(await repo.subscriptions_of(contact))


@router.put("/contacts/{contact}/subscriptions", summary="Replace what a contact follows")
async def put_subscriptions(contact: ContactId, body: SubscriptionsIn, uow: Uow = Writer) -> list[dict[str, Any]]:
    wanted = [
        Subscription(s.event_type, {k: tuple(v) for k, v in s.filters.model_dump(exclude_none=True).items()})
        for s in body.subscriptions
    ]
    return subscriptions_reply(await contacts.replace_subscriptions(uow, contact, wanted))


@router.get("/contacts/{contact}/preferences", summary="How often a contact hears of each topic, per channel")
async def get_preferences(
    contact: ContactId, actor: Actor = Reader, repo: NotificationsRepository = Depends(repository)
) -> list[dict[str, str]]:
    await contacts.owned(repo, actor, contact)
    return preferences_reply(await repo.preferences_of(contact))


@router.put(
    "/contacts/{contact}/preferences",
    summary="Replace a contact's preferences (critical messages cannot be muted: they ignore them)",
)
async def put_preferences(contact: ContactId, body: PreferencesIn, uow: Uow = Writer) -> list[dict[str, str]]:
    wanted: dict[tuple[str, str], Frequency] = {(p.topic, p.channel): p.frequency for p in body.preferences}
    return preferences_reply(await contacts.replace_preferences(uow, contact, wanted))


@router.post(
    "/contacts/{contact}/webhook-secret",
    summary="Rotate a webhook's signing secret: the new one is shown once; the old one signs a day more",
)
async def post_webhook_secret(contact: ContactId, request: Request, uow: Uow = Writer) -> dict[str, Any]:
    grace = request.app.state.runtime.settings.webhook_secret_grace_s
    return {"contact": contact, "webhook_secret": await contacts.rotate_webhook_secret(uow, contact, grace)}


@router.get("/contacts/{contact}/feed", summary="A contact's in-app feed, newest first")
async def get_feed(
    contact: ContactId,
    unread: bool = Query(False),
    before: int | None = Query(None, ge=1, le=2**62),
    limit: int = Query(50, ge=1, le=500),
    actor: Actor = Reader,
    repo: NotificationsRepository = Depends(repository),
) -> list[dict[str, Any]]:
    await contacts.owned(repo, actor, contact)
    return [item.__dict__ for item in await repo.feed(contact, limit, unread=unread, before=before)]


@router.post("/contacts/{contact}/feed/read", summary="Mark items of a contact's feed read")
async def post_feed_read(contact: ContactId, body: FeedRead, uow: Uow = Writer) -> dict[str, int]:
    async with uow:
        await contacts.owned(uow.repo, uow.actor, contact)
        return {"marked": await uow.repo.mark_read(contact, body.ids)}
