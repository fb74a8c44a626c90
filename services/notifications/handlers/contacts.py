"""Contacts: an organisation's people, its mailbox and its webhooks, managed by the organisation
itself with its own key (or by the Coordination), their subscriptions and preferences, the
one-click unsubscribe, the feed, and erasure on request.

Who may touch a contact is decided here, once (``owned``): the Coordination, or a key of the
contact's own organisation. Another organisation's contact answers 404, not 403: a partner does
not learn which contact numbers exist elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from passerelle_contracts import Actor

from services.runtime.errors import Invalid, NotFound
from services.runtime.logs import get_logger
from services.runtime.uow import UnitOfWork

from .. import links, smtp, webhooks
from ..audience import Frequency
from ..domain import Contact, ContactDetails, Subscription
from ..repository import NotificationsRepository

Uow = UnitOfWork[NotificationsRepository]
log = get_logger(__name__)
SEES_EVERY_CONTACT = ("coordination",)


def may_manage(actor: Actor, partner: str) -> bool:
    return actor.role in SEES_EVERY_CONTACT or actor.organisation == partner


async def owned(repo: NotificationsRepository, actor: Actor, contact: int, *, lock: bool = False) -> Contact:
    found = await repo.contact(contact, lock=lock)
    if found is None or not may_manage(actor, found.partner_code):
        raise NotFound(f"no contact {contact}")
    return found


def checked(details: ContactDetails, *, allow_loopback: bool = False) -> ContactDetails:
    """A contact's details are coherent with its kind (the table's CHECKs, with reasons)."""
    if details.kind == "webhook":
        if details.webhook_url is None:
            raise Invalid("a webhook contact needs its webhook_url")
        try:
            webhooks.check_url(details.webhook_url, allow_loopback=allow_loopback)
        except ValueError as error:
            raise Invalid(f"webhook_url: {error}") from None
        return ContactDetails(
            kind="webhook", language=details.language, name=details.name, webhook_url=details.webhook_url,
            channels=("webhook",), active=details.active,
        )  # fmt: skip
    if details.email is None:
        raise Invalid(f"a {details.kind} contact needs its email")
    if not smtp.is_bare_address(details.email):
        raise Invalid("email: one address, as someone@example.org (no name, no list, no brackets)")
    if details.webhook_url is not None:
        raise Invalid("only a webhook contact has a webhook_url")
    if "webhook" in details.channels:
        raise Invalid("a person or a mailbox is told by email or in the feed, not by webhook")
    return details


async def add_contact(
    uow: Uow, partner: str, details: ContactDetails, *, allow_loopback: bool = False
) -> tuple[Contact, str | None]:
    """A new contact of ``partner``; a webhook's first signing secret is returned once."""
    if not may_manage(uow.actor, partner):
        raise NotFound(f"no partner {partner}")
    if details.kind == "mailbox":
        raise Invalid("an organisation's mailbox is its partner's email (PUT /partners/{code})")
    details = checked(details, allow_loopback=allow_loopback)
    async with uow:
        if await uow.repo.partner(partner) is None:
            raise NotFound(f"no partner {partner}")
        contact = await uow.repo.add_contact(partner, details)
        secret = None
        if details.kind == "webhook":
            secret = webhooks.new_secret()
            await uow.repo.add_webhook_secret(contact, secret, None)
        found = await uow.repo.contact(contact)
        assert found is not None
    log.info("contact added", partner=partner, contact=contact, kind=details.kind)
    return found, secret


async def change_contact(uow: Uow, contact: int, details: ContactDetails, *, allow_loopback: bool = False) -> Contact:
    async with uow:
        found = await owned(uow.repo, uow.actor, contact, lock=True)
        if details.kind != found.details.kind:
            raise Invalid(f"a contact's kind does not change ({found.details.kind})")
        await uow.repo.update_contact(contact, checked(details, allow_loopback=allow_loopback))
        changed = await uow.repo.contact(contact)
        assert changed is not None
        return changed


async def erase_contact(uow: Uow, contact: int) -> int:
    """Erase the contact on request (see ``NotificationsRepository.erase_contact``); returns how
    many of its messages the delivery log keeps, anonymised."""
    async with uow:
        found = await owned(uow.repo, uow.actor, contact, lock=True)
        if found.details.kind == "mailbox":
            raise Invalid("an organisation's mailbox is erased with the organisation's address: change it instead")
        anonymised = await uow.repo.erase_contact(contact)
    log.info("contact erased", partner=found.partner_code, contact=contact, messages_anonymised=anonymised)
    return anonymised


async def replace_subscriptions(uow: Uow, contact: int, subscriptions: Sequence[Subscription]) -> list[Subscription]:
    async with uow:
        await owned(uow.repo, uow.actor, contact, lock=True)
        await uow.repo.replace_contact_subscriptions(contact, subscriptions)
        return await uow.repo.subscriptions_of(contact)


async def replace_preferences(
    uow: Uow, contact: int, preferences: Mapping[tuple[str, str], Frequency]
) -> dict[tuple[str, str], Frequency]:
    async with uow:
        await owned(uow.repo, uow.actor, contact, lock=True)
        await uow.repo.replace_preferences(contact, preferences)
        return await uow.repo.preferences_of(contact)


async def rotate_webhook_secret(uow: Uow, contact: int, grace_s: float) -> str:
    """A new signing secret, returned once; the previous ones keep signing for ``grace_s``."""
    async with uow:
        found = await owned(uow.repo, uow.actor, contact, lock=True)
        if found.details.kind != "webhook":
            raise Invalid("only a webhook contact has a signing secret")
        secret = webhooks.new_secret()
        await uow.repo.add_webhook_secret(contact, secret, datetime.now(UTC) + timedelta(seconds=grace_s))
    log.info("webhook secret rotated", contact=contact, partner=found.partner_code)
    return secret


async def unsubscribe(uow: Uow, token: str) -> links.Unsubscribe | None:
    """Mute the topic a one-click link names for its contact's e-mail (none: not a genuine link,
    or the contact was erased)."""
    async with uow:
        key = await uow.repo.service_key(links.KEY_NAME)
        found = links.read_token(key, token)
        if found is None or not await uow.repo.set_preference(found.contact, found.topic, "email", "off"):
            return None
    log.info("unsubscribed", contact=found.contact, topic=found.topic)
    return found
