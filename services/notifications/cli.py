"""The notifications service's own commands. ``python -m services.notifications <command> --help``.

``erase-contact``: a person asked to be forgotten (GDPR art. 17). Their contact row, subscriptions,
preferences and waiting digest entries go; their messages stay in the delivery log anonymised (no
number, no address; the ones not sent yet are not sent), so "was this organisation told?" can
still be answered. The decision is written to ``operator_audit`` with who took it and why, in the
same transaction. The organisation's key can do the same over HTTP (``DELETE /contacts/{id}``).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from passerelle_contracts import Actor

from services.runtime import dlq
from services.runtime.cli import Command
from services.runtime.uow import Context, Session

from .handlers.contacts import erase_contact
from .repository import NotificationsRepository

OPERATOR = Actor(organisation="coordination-inclusion-numerique", role="coordination", key_id="cli")


def _erase_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("contact", type=int, help="the contact's number (GET /partners/{code}/contacts)")
    parser.add_argument("--reason-text", required=True, help="why, e.g. the request's reference")
    parser.add_argument("--operator", help="who acts (default: $USER)")


async def _erase(args: argparse.Namespace, session: Session[NotificationsRepository]) -> Any:
    operator = dlq.operator_name(args.operator)
    uow = session.unit_of_work(Context(actor=OPERATOR))
    async with uow:
        found = await uow.repo.contact(args.contact)
        anonymised = await erase_contact(uow, args.contact)
        await dlq.audit(
            uow.repo.db,
            dlq.AuditEntry(
                operator=operator,
                action="contact-erase",
                target=f"contact:{args.contact}",
                topic=None,
                partition=None,
                offset=None,
                event_id=None,
                outcome="done",
                reason=args.reason_text,
                detail={"partner": None if found is None else found.partner_code, "messages_anonymised": anonymised},
            ),
        )
    print(json.dumps({"erased": args.contact, "messages_anonymised": anonymised}))


COMMANDS = {
    "erase-contact": Command(
        "erase a contact on request: its details go, its messages stay in the log anonymised", _erase_args, _erase
    ),
}
