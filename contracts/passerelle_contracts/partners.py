"""What partners read: the partner topics, projections of the internal ones without what people wrote.

The services' own topics carry everything the other services need, notes and comments included,
and are kept for ever; partners (EPNs, schools, non-profits, the Region's administrations) are
many, their copies are out of our hands, and a sentence typed into a report comment may name a
person. So a partner never reads an internal topic: each domain topic has a partner topic,
``passerelle.partners.<domain>.v1``, that carries the same events (same types, keys, times and
order) with the free text withheld. A copy is an event of its own: its ``event_id`` is derived from
the original's (``partner_event_id``, the same at every replay, so partners deduplicate on it as on
any event id), its ``causation_id`` is the original's id, and its actor names the organisation
and its role, not the API key that acted.

The copies start when the producing service first runs with this module: a deployment that had
events before has them on its internal topics only (the partner topics are not backfilled). The producing service writes both in the same transaction
(the runtime's unit of work calls ``project``), so a partner topic is exactly as complete and as
ordered as its internal topic, and never holds anything the projection did not let through.

Withheld, on every partner topic:

- ``changes``: the before/after lists, whose values may be any field's, a note's included;
- the text people write: status notes, report comments, meeting places, agendas and minutes,
  decisions, reasons given for a refusal, a return or a cancellation.

What remains is organisations (codes), counts, amounts, dates, identifiers, codes and the plan's
public texts (action and call titles). ``STRING_KINDS`` names what each string field left holds;
the contract tests fail when a partner event gains a string field that is not there, or that is
named there as free text or personal data.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any, Literal

from pydantic import create_model

from . import actions_v1, equipment_v1, funding_v1
from .envelope import Actor, Envelope, EventData

DOMAIN_PREFIX = "passerelle."
PARTNER_PREFIX = "passerelle.partners."
# The internal topics partners get a projection of: the plan, the equipment, the funding (not the
# notifications' delivery log, which is about the partners' own addresses).
PROJECTED = (actions_v1.TOPIC, equipment_v1.TOPIC, funding_v1.TOPIC)

WITHHELD_EVERYWHERE = frozenset({"changes"})
WITHHELD: dict[str, frozenset[str]] = {
    "ActionStatusChanged": frozenset({"note"}),
    "ReportSubmitted": frozenset({"comment"}),
    "ReportApproved": frozenset({"comment"}),
    "ReportReturned": frozenset({"comment"}),
    "MeetingScheduled": frozenset({"location", "agenda"}),
    "MeetingRescheduled": frozenset({"location", "agenda"}),
    "MeetingCancelled": frozenset({"reason"}),
    "MeetingHeld": frozenset({"agenda", "minutes"}),
    "DecisionRecorded": frozenset({"decision"}),
    "RequestReviewed": frozenset({"reason"}),
    "DeviceReturned": frozenset({"reason"}),
}

StringKind = Literal[
    "identifier",  # an id Passerelle or a partner made (uuid, code, reference): not about a person
    "organisation",  # an organisation's code (a school, an EPN's operator, a donor, a recycler)
    "code",  # a code from a closed list kept outside the schema (a programme, a unit, a language)
    "amount",  # a decimal amount of euros or a percentage, as text to keep its exact value
    "plan-text",  # a public text of the plan or of a call, written once by the Coordination
    "place",  # a commune, a postcode, an EPN's public address or name: places, not homes
    "digest",  # a SHA-256
]
# What each string field of a partner event holds, by field name (a name means the same thing in
# every event). Strings with an enum, a pattern or a format (dates, uuids) need no entry.
STRING_KINDS: dict[str, StringKind] = {
    # identifiers
    "allocation_run": "identifier",
    "application_id": "identifier",
    "batch_id": "identifier",
    "batches": "identifier",
    "certificate_id": "identifier",
    "certificate_reference": "identifier",
    "claim_id": "identifier",
    "delivery_id": "identifier",
    "device_id": "identifier",
    "duty_id": "identifier",
    "grant_id": "identifier",
    "line_id": "identifier",
    "meeting_id": "identifier",
    "milestone_id": "identifier",
    "payment_id": "identifier",
    "reclaim_id": "identifier",
    "reference": "identifier",
    "report_id": "identifier",
    "request_id": "identifier",
    "source_event_id": "identifier",
    "transfer_id": "identifier",
    "files": "digest",  # file name -> SHA-256 of the annual report's published files
    "epn": "identifier",
    # organisations
    "applicant": "organisation",
    "attendees": "organisation",
    "absent": "organisation",
    "beneficiary": "organisation",
    "donor": "organisation",
    "from_organisation": "organisation",
    "funder_name": "organisation",
    "invited": "organisation",
    "lead": "organisation",
    "operator": "organisation",
    "partners": "organisation",
    "recipient": "organisation",
    "recycler": "organisation",
    "returned_to": "organisation",
    "reviewer": "organisation",
    "to_organisation": "organisation",
    # codes
    "call_code": "code",
    "criteria_unmet": "code",
    "indicator_code": "code",
    "languages": "code",
    "method": "code",
    "period": "code",
    "programme": "code",
    "unit": "code",
    # amounts
    "amount_eur": "amount",
    "accepted_eur": "amount",
    "budget_eur": "amount",
    "claimed_eur": "amount",
    "cofinancing_pct": "amount",
    "committed_eur": "amount",
    "hours_per_week": "amount",
    "paid_eur": "amount",
    "paid_total_eur": "amount",
    "refused_eur": "amount",
    "remaining_eur": "amount",
    "requested_eur": "amount",
    # the plan's public texts
    "indicator_name_fr": "plan-text",
    "indicator_name_nl": "plan-text",
    "name_fr": "plan-text",
    "name_nl": "plan-text",
    "title_fr": "plan-text",
    "title_nl": "plan-text",
    # places
    "address": "place",
    "commune": "place",
    "epn_name": "place",
    "postcode": "place",
    # the certificate's digest
    "certificate_sha256": "digest",
}


# uuid5 namespace of the partner copies' ids (a fixed random value: never change it).
COPY_NAMESPACE = uuid.UUID("6f1d1c2e-93b5-4c43-9a0e-58b1d6a0c3f7")


def partner_event_id(event_id: uuid.UUID) -> uuid.UUID:
    """The id of the partner copy of event ``event_id``."""
    return uuid.uuid5(COPY_NAMESPACE, str(event_id))


def partner_topic(internal: str) -> str:
    """``passerelle.actions.v1`` -> ``passerelle.partners.actions.v1``."""
    return PARTNER_PREFIX + internal.removeprefix(DOMAIN_PREFIX)


@functools.cache  # asked for every event a service emits; the tables above are constants
def withheld(event_type: str) -> frozenset[str]:
    return WITHHELD_EVERYWHERE | WITHHELD.get(event_type, frozenset())


def _partner_model(model: type[EventData]) -> type[EventData]:
    hidden = withheld(model.event_type)
    fields: dict[str, Any] = {
        name: (info.annotation, info) for name, info in model.model_fields.items() if name not in hidden
    }
    partner: type[EventData] = create_model(
        model.__name__,
        __base__=EventData,
        __doc__=model.__doc__,
        __module__=__name__,
        **fields,
    )
    partner.event_type = model.event_type
    partner.event_version = model.event_version
    partner.topic = partner_topic(model.topic)
    return partner


def _models() -> dict[tuple[str, int], type[EventData]]:
    models = {}
    for module in (actions_v1, equipment_v1, funding_v1):
        for model in module.EVENTS:
            models[(model.event_type, model.event_version)] = _partner_model(model)
    return models


# The partner events, by (type, version): what a partner's reader validates against.
PARTNER_EVENT_MODELS: dict[tuple[str, int], type[EventData]] = _models()


def project(topic: str, envelope: Envelope) -> Envelope | None:
    """The partner topic's copy of an event written to ``topic`` (a registry name, no prefix), or
    None when partners get no copy of that topic."""
    if topic not in PROJECTED:
        return None
    hidden = withheld(envelope.event_type)
    data = {name: value for name, value in envelope.data.items() if name not in hidden}
    actor = envelope.actor
    # Built from an envelope already validated, with fields of its own: constructed, not validated
    # again (a consumer writes one copy per event it emits; validating each cost more than all the rest).
    return Envelope.model_construct(
        **{
            **envelope.__dict__,
            "event_id": partner_event_id(envelope.event_id),
            "causation_id": envelope.event_id,
            # The organisation and its role; not which of its API keys acted (one key is often
            # one person: an identifier partners have no use for).
            "actor": actor
            if actor.key_id is None
            else Actor.model_construct(organisation=actor.organisation, role=actor.role),
            "data": data,
        }
    )


def parse_partner_data(envelope: Envelope) -> EventData:
    """Validate a partner record's payload against its partner event model."""
    from .registry import parse_data  # the registry imports this module

    return parse_data(envelope, PARTNER_EVENT_MODELS)
