"""An event partners may hear of becomes messages: rendered now, sent later by the dispatcher (or
delivered at once in the in-app feed), or kept for the contacts' next digest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from passerelle_contracts import Envelope
from passerelle_contracts.common import Language

from services.runtime.uow import UnitOfWork

from .. import audience, links
from ..domain import MEMBER_ROLE, Candidate, NewMessage
from ..rendering import Rendered, render, render_footer
from ..repository import NotificationsRepository

Uow = UnitOfWork[NotificationsRepository]

REASONS: dict[str, dict[Language, str]] = {
    "subscribed": {
        "fr": "Vous recevez ce message parce que vous suivez les événements « {topic} ».",
        "nl": "U ontvangt dit bericht omdat u de gebeurtenissen „{topic}” volgt.",
    },
    "own": {
        "fr": "Vous recevez ce message parce qu'il concerne votre organisation ({partner}).",
        "nl": "U ontvangt dit bericht omdat het uw organisatie ({partner}) aanbelangt.",
    },
}
GRANT_EVENTS = ("GrantAwarded", "GrantAgreementSigned")


@dataclass(frozen=True)
class Links:
    """Where messages point: this service's public address (unsubscribe links) and the dashboard."""

    public_url: str
    dashboard_url: str

    @property
    def preferences_url(self) -> str:
        return f"{self.dashboard_url.rstrip('/')}/notifications/preferences"


async def context_of(repo: NotificationsRepository, envelope: Envelope) -> audience.Context:
    """What the service knows around the event: its action's axis, chantier and lead, its EPN's
    operator and commune, its grant's holder, its meeting's members."""
    data = envelope.data
    action = await repo.plan_action(data["action_number"]) if isinstance(data.get("action_number"), int) else None
    epn = await repo.epn(data["epn"]) if isinstance(data.get("epn"), str) else None
    holder = await repo.grant_holder(data["grant_id"]) if isinstance(data.get("grant_id"), str) else None
    kind = data.get("kind") if envelope.event_type.startswith("Meeting") else None
    members = await repo.members(MEMBER_ROLE[kind]) if isinstance(kind, str) and kind in MEMBER_ROLE else frozenset()
    return audience.Context(
        axis=None if action is None else action["axis"],
        chantier=None if action is None else action["chantier"],
        owner=None if action is None else action["lead"],
        epn_operator=None if epn is None else epn.operator,
        epn_commune=None if epn is None else epn.commune,
        grant_holder=holder,
        members=members,
    )


def webhook_body(envelope: Envelope) -> str:
    """What a webhook receives: the event as the contracts define it (partners code against them)."""
    payload = {
        "type": envelope.event_type,
        "timestamp": envelope.occurred_at.isoformat(),
        "data": envelope.model_dump(mode="json"),
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


class Notifier:
    """The consumer ``mailer``'s handler (see ``subscribers``)."""

    def __init__(self, links_: Links) -> None:
        self.links = links_
        # Read once, on the first event: the service's first start and its unsubscribe key never
        # change, and every event asked for both (two queries on the consumer's hot path).
        self._started: datetime | None = None
        self._key: bytes | None = None

    async def __call__(self, uow: Uow, envelope: Envelope, data: Any) -> None:
        """Queue what every contact that hears of the event gets, in its language.

        Runs in the consumer's unit of work, with its inbox row: the messages and digest entries are
        written if and only if the event is marked handled, and a redelivery adds nothing (one row
        per contact, channel and event). Events that happened before the service first started are
        history, not news: kept for digests of nobody, told to nobody.
        """
        async with uow:
            if envelope.event_type in GRANT_EVENTS:
                await uow.repo.save_grant_holder(envelope.data["grant_id"], envelope.data["beneficiary"])
            if self._started is None:
                self._started = await uow.repo.started_at()
            if envelope.occurred_at < self._started:
                return
            context = await context_of(uow.repo, envelope)
            facets = audience.facets(envelope.event_type, envelope.data, context)
            own = audience.addressees(envelope.event_type, envelope.data, context)
            candidates = await uow.repo.audience(envelope.event_type, facets, own)
            seq = await uow.repo.record_item(envelope, facets)
            if self._key is None and candidates:
                self._key = await uow.repo.service_key(links.KEY_NAME)
            messages, entries = self.plan(envelope, candidates, own, seq, self._key or b"")
            await uow.repo.add_messages(messages)
            await uow.repo.add_digest_entries(entries)

    def plan(
        self, envelope: Envelope, candidates: list[Candidate], own: frozenset[str], seq: int, key: bytes
    ) -> tuple[list[NewMessage], list[tuple[int, str, int]]]:
        rendered: dict[Language, Rendered] = {}  # one rendering per language, not per contact
        messages: list[NewMessage] = []
        entries: list[tuple[int, str, int]] = []
        now = datetime.now(UTC)
        for c in candidates:
            is_own = c.partner_code in own
            for route in audience.routes(
                envelope.event_type,
                c.partner_code,
                c.contact_id,
                c.kind,
                c.channels,
                c.preferences,
                subscribed=c.subscribed,
                own=is_own,
                suspended=c.suspended,
                quiet=(c.quiet_from, c.quiet_until),
                now=now,
            ):
                if route.digest is not None:
                    entries.append((c.contact_id, route.digest, seq))
                    continue
                if c.language not in rendered:
                    rendered[c.language] = render(envelope, c.language, self.links.dashboard_url)
                text = rendered[c.language]
                unsubscribe = None if route.critical or route.channel != "email" else envelope.event_type
                if route.channel == "webhook":
                    body = webhook_body(envelope)
                elif route.channel == "feed":
                    body = text.line
                else:
                    reason = REASONS["own" if is_own and not c.subscribed else "subscribed"][c.language]
                    footer = render_footer(
                        c.language,
                        reason=reason.format(topic=envelope.event_type, partner=c.partner_code),
                        unsubscribe_url=None
                        if unsubscribe is None
                        else links.unsubscribe_url(self.links.public_url, key, c.contact_id, unsubscribe),
                        preferences_url=self.links.preferences_url,
                    )
                    body = f"{text.body.rstrip()}\n\n{footer}"
                messages.append(
                    NewMessage(
                        contact_id=c.contact_id,
                        partner_code=c.partner_code,
                        channel=route.channel,
                        topic_key=str(envelope.event_id),
                        event_id=envelope.event_id,
                        event_type=envelope.event_type,
                        correlation_id=envelope.correlation_id,
                        address=c.address if route.channel != "feed" else None,
                        language=c.language,
                        subject=text.subject,
                        body=body,
                        link=text.link,
                        critical=route.critical,
                        unsubscribe=unsubscribe,
                        not_before=route.not_before,
                    )
                )
        return messages, entries
