"""What partners read, written as Jinja2 templates that a non-developer can edit: one e-mail per
event, digests, the reminder before a meeting, the footer, the alert when an address bounces.

The words live in ``texts/<language>/`` (``texts/README.md`` says how to edit and preview them)
and in the label tables of ``passerelle_contracts.i18n``; this module only wires them: it picks
the template of an event type, gives it the event's data, formats numbers, amounts, dates and
codes per language (the filters below), and knows which dashboard page each event is about
(``THINGS``), because a link is not a matter of wording. Pure: no I/O but reading the templates.

Plain text: ``autoescape`` is off on purpose (HTML escaping would show ``&amp;`` and ``&#39;`` in
the e-mails), and event data is only ever *inserted* into templates, never rendered as one.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, partial
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, TemplateNotFound
from passerelle_contracts import Envelope, EventData, actions_v1, equipment_v1, funding_v1
from passerelle_contracts.actions_v1 import MeetingScheduled
from passerelle_contracts.common import LANGUAGES, Language
from passerelle_contracts.i18n import localized
from passerelle_contracts.registry import EVENT_MODELS

from .formatting import (
    change_value,
    f_amount,
    f_capfirst,
    f_clip,
    f_date,
    f_datetime,
    f_label,
    f_labels,
    f_nonzero,
    f_number,
    f_percent,
    f_short,
    f_time,
    f_weekday,
    field_label,
    one_line,
    paragraphs,
)

TEXTS = Path(__file__).with_name("texts")
EXAMPLES = Path(__file__).resolve().parents[2] / "contracts" / "examples"
SUBJECT_PREFIX = "[Passerelle] "  # what partners' mail filters sort on
EVENT_BLOCKS = ("subject", "text", "line", "group_title")
"""The blocks every template of an event type (and of the digest, the reminder, the alert) defines."""

SUBSCRIBABLE: tuple[str, ...] = tuple(
    model.event_type
    for model in (*actions_v1.EVENTS, *equipment_v1.EVENTS, *funding_v1.EVENTS)
    if model.event_type != "EpnLabelled"
)
"""Every event type a partner can subscribe to: every event type of actions_v1, equipment_v1 and
funding_v1 EVENTS except EpnLabelled (superseded by EpnLabelStatusChanged, kept for old readers)."""


class NoTemplate(LookupError):
    """An event type partners cannot subscribe to, or a text whose template file is missing."""


@dataclass(frozen=True)
class Rendered:
    subject: str  # one line
    body: str  # plain text: greeting, what happened, what changed, the link, signature (no footer)
    line: str  # one line for a digest or the in-app feed
    link: str  # absolute URL of the dashboard page of the thing
    group: str  # the digest group key of the thing: "action:12", "batch:<id>", "epn:<code>" …
    group_title: str  # its heading in a digest, in the language


@dataclass(frozen=True)
class DigestItem:
    event_id: uuid.UUID
    event_type: str
    occurred_at: datetime
    data: Mapping[str, Any]


# --- the thing each event is about: its digest group and its dashboard page ----------------------


@dataclass(frozen=True)
class Thing:
    group: str
    path: str  # the event's page
    group_path: str  # the group's page (a report's is its action's)


def _get(d: EventData, name: str) -> Any:
    """A field of an event's data (each event type declares its own; EventData declares none)."""
    return getattr(d, name)


def _by(kind: str, key: str, path: str) -> Callable[[EventData], Thing]:
    def thing(d: EventData) -> Thing:
        value = str(_get(d, key))
        page = path.format(quote(value, safe=""))
        return Thing(f"{kind}:{value}", page, page)

    return thing


def _report(d: EventData) -> Thing:
    n = _get(d, "action_number")
    return Thing(f"action:{n}", f"/actions/{n}/reports/{quote(_get(d, 'report_id'), safe='')}", f"/actions/{n}")


def _transfer(d: EventData) -> Thing:
    # Custody of batches moves (a donor's to a refurbisher): the first batch is the thing, the
    # text names the others.
    batches = _get(d, "batches")
    batch = str(batches[0]) if batches else str(_get(d, "transfer_id"))
    page = f"/equipment/batches/{quote(batch, safe='')}"
    return Thing(f"batch:{batch}", page, page)


def _cadastre(d: EventData) -> Thing:
    return Thing(f"cadastre:{_get(d, 'year')}", "/funding/cadastre", "/funding/cadastre")


# (group kind, the field naming the thing, its dashboard page): the event types about it.
_PAGES = {
    ("action", "action_number", "/actions/{}"): "ActionRegistered ActionStatusChanged IndicatorMeasured "
    "ActionDetailsChanged ActionProgressUpdated MilestonePlanned MilestoneReached MilestoneOverdue IndicatorDefined "
    "DecisionRecorded",
    ("meeting", "meeting_id", "/meetings/{}"): "MeetingScheduled MeetingRescheduled MeetingCancelled MeetingHeld",
    ("annual-report", "report_id", "/annual-reports/{}"): "AnnualReportPublished",
    ("delivery", "delivery_id", "/equipment/deliveries/{}"): "DevicesDelivered DeliveryFollowUpDue",
    ("batch", "batch_id", "/equipment/batches/{}"): "BatchDeclared DeviceSanitised DeviceConditionChanged "
    "BatchMilestoneReached",
    ("request", "request_id", "/equipment/requests/{}"): "RequestSubmitted RequestReviewed DevicesAllocated",
    # A returned or disposed device names no batch nor delivery: the device is the thing.
    ("device", "device_id", "/equipment/devices/{}"): "DeviceReturned DeviceDisposed",
    ("epn", "epn", "/funding/epns/{}"): "EpnRegistered EpnDetailsChanged EpnLabelStatusChanged "
    "ActivityReturnSubmitted ActivityReturnReminder",
    ("call", "call_code", "/funding/calls/{}"): "CallOpened CallClosingSoon",
    ("application", "application_id", "/funding/applications/{}"): "ApplicationSubmitted ApplicationReviewed "
    "ApplicationDecided",
    ("grant", "grant_id", "/funding/grants/{}"): "GrantAwarded GrantAgreementSigned GrantAmended "
    "PaymentClaimSubmitted PaymentClaimChecked PaymentMade ReclaimIssued ReportingReminder GrantReportSubmitted "
    "GrantReportReviewed GrantClosed",
}
THINGS: dict[str, Callable[[EventData], Thing]] = {
    **{event_type: _by(*page) for page, types in _PAGES.items() for event_type in types.split()},
    **dict.fromkeys(("ReportSubmitted", "ReportApproved", "ReportReturned"), _report),
    "DevicesTransferred": _transfer,
    **dict.fromkeys(("FundingLineRecorded", "FundingLineChanged", "CadastreCoverageChanged"), _cadastre),
}
"""The thing each event type is about: its digest group and its dashboard page (a link is not wording)."""


@cache
def environment(language: Language) -> Environment:
    """One environment per language: its templates, its filters, the macros of ``_macros.j2`` as ``m``."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    env = Environment(
        loader=FileSystemLoader(TEXTS / language),
        undefined=StrictUndefined,
        autoescape=False,  # noqa: S701  # plain-text e-mails: HTML escaping would garble them (module docstring)
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        number=partial(f_number, language=language),
        amount=partial(f_amount, language=language),
        percent=partial(f_percent, language=language),
        date=partial(f_date, language=language),
        datetime=partial(f_datetime, language=language),
        time=f_time,
        weekday=partial(f_weekday, language=language),
        label=partial(f_label, language=language),
        labels=partial(f_labels, language=language),
        field=partial(field_label, language=language),
        short=f_short,
        clip=f_clip,
        nonzero=f_nonzero,
        capfirst=f_capfirst,
    )
    env.globals.update(language=language, localized=partial(localized, language))
    # Blocks are rendered one by one, where a template's own {% import %} is not seen: the shared
    # macros are a global instead.
    env.globals["m"] = env.get_template("_macros.j2").module
    return env


def _template(name: str, language: Language) -> Template:
    try:
        return environment(language).get_template(f"{name}.j2")
    except TemplateNotFound:
        raise NoTemplate(f"no {language} text for {name}: add {TEXTS.name}/{language}/{name}.j2") from None


def _blocks(template: Template, variables: Mapping[str, Any], names: Sequence[str] = EVENT_BLOCKS) -> dict[str, str]:
    missing = [name for name in names if name not in template.blocks]
    if missing:
        raise NoTemplate(f"{template.name} ({template.filename}) has no block {', '.join(missing)}")
    context = template.new_context(dict(variables))
    return {name: "".join(template.blocks[name](context)) for name in names}


def _email(language: Language, text: str, link: str) -> str:
    return paragraphs(_template("_email", language).render(text=paragraphs(text), link=link))


def _url(dashboard_url: str, path: str) -> str:
    return dashboard_url.rstrip("/") + path


def _model(event_type: str, data: Mapping[str, Any], version: int = 1) -> EventData:
    if event_type not in SUBSCRIBABLE:
        raise NoTemplate(f"{event_type} is not an event type partners can subscribe to")
    model = EVENT_MODELS.get((event_type, version))
    if model is None:
        raise NoTemplate(f"no contract for {event_type} v{version}, so no text")
    return model.model_validate(dict(data))


@dataclass(frozen=True)
class Change:
    """A changed field as the templates show it: its label and both values, formatted."""

    field: str
    label: str
    old: str
    new: str


def changes(event_type: str, d: EventData, language: Language) -> list[Change]:
    """The event's ``changes``, each value through its label table or its format (``change_value``)."""
    return [
        Change(
            c.field,
            field_label(c.field, language),
            change_value(event_type, c.field, c.old, language),
            change_value(event_type, c.field, c.new, language),
        )
        for c in getattr(d, "changes", ())
    ]


def _variables(
    event_type: str, d: EventData, occurred_at: datetime, link: str, language: Language, folded: int = 1
) -> dict[str, Any]:
    return {
        "d": d,
        "changes": changes(event_type, d, language),
        "event_type": event_type,
        "occurred_at": occurred_at,
        "link": link,
        "folded": folded,
    }


# --- one event, a digest, a meeting's reminder, the footer, a bounce -----------------------------


def render(envelope: Envelope, language: Language, dashboard_url: str) -> Rendered:
    """The e-mail about one event, in ``language`` (a NoTemplate, a LookupError, for a type without texts)."""
    d = _model(envelope.event_type, envelope.data, envelope.event_version)
    thing = THINGS[envelope.event_type](d)
    link = _url(dashboard_url, thing.path)
    template = _template(envelope.event_type, language)
    blocks = _blocks(template, _variables(envelope.event_type, d, envelope.occurred_at, link, language))
    return Rendered(
        subject=SUBJECT_PREFIX + one_line(blocks["subject"]),
        body=_email(language, blocks["text"], link),
        line=one_line(blocks["line"]),
        link=link,
        group=thing.group,
        group_title=one_line(blocks["group_title"]),
    )


@dataclass(frozen=True)
class DigestLine:
    text: str
    count: int  # how many items it stands for
    measurements: bool = False  # an indicator's measurements folded: its text says how many


@dataclass
class DigestGroup:
    key: str
    link: str
    title: str = ""
    lines: list[DigestLine] = field(default_factory=list)


@dataclass
class _Entry:
    text: str | None  # none: an indicator's measurements, whose line is rendered once folded
    items: list[tuple[DigestItem, EventData]] = field(default_factory=list)


def digest_groups(items: Sequence[DigestItem], language: Language, dashboard_url: str) -> list[DigestGroup]:
    """The digest's groups, newest first, each with its lines newest first; every item is counted
    in exactly one line. An indicator's measurements fold into one line (from the oldest's
    previous value to the newest's value); other identical lines of a group fold with a count."""
    newest_first = sorted(items, key=lambda item: (item.occurred_at, str(item.event_id)), reverse=True)
    groups: dict[str, DigestGroup] = {}
    entries: dict[str, dict[tuple[Any, ...], _Entry]] = {}
    titles: dict[tuple[str, str], str] = {}  # one title per event type and group: the newest's
    for item in newest_first:
        d = _model(item.event_type, item.data)
        thing = THINGS[item.event_type](d)
        link = _url(dashboard_url, thing.path)
        group = groups.setdefault(thing.group, DigestGroup(thing.group, _url(dashboard_url, thing.group_path)))
        template = _template(item.event_type, language)
        variables = _variables(item.event_type, d, item.occurred_at, link, language)
        if (item.event_type, thing.group) not in titles:
            title = one_line(_blocks(template, variables, ("group_title",))["group_title"])
            titles[(item.event_type, thing.group)] = title
            if len(title) > len(group.title):  # the most telling: "Action 12 — Titre" over "Action 12"
                group.title = title
        if item.event_type == "IndicatorMeasured":
            key: tuple[Any, ...] = ("measured", _get(d, "action_number"), _get(d, "indicator_code"))
        else:
            key = ("line", one_line(_blocks(template, variables, ("line",))["line"]))
        entry = entries.setdefault(thing.group, {}).setdefault(key, _Entry(key[1] if key[0] == "line" else None))
        entry.items.append((item, d))
    for group in groups.values():
        for entry in entries[group.key].values():
            if entry.text is not None:
                group.lines.append(DigestLine(entry.text, len(entry.items)))
                continue
            (newest, d), (_, oldest) = entry.items[0], entry.items[-1]
            folded = d.model_copy(update={"previous_value": _get(oldest, "previous_value")})
            link = _url(dashboard_url, THINGS[newest.event_type](d).path)
            variables = _variables(newest.event_type, folded, newest.occurred_at, link, language, len(entry.items))
            text = _blocks(_template(newest.event_type, language), variables, ("line",))["line"]
            group.lines.append(DigestLine(one_line(text), len(entry.items), measurements=True))
    return list(groups.values())


def render_digest(
    items: Sequence[DigestItem],
    language: Language,
    dashboard_url: str,
    *,
    kind: Literal["daily", "weekly", "meeting"],
    since: datetime,
    until: datetime,
    meeting: Mapping[str, Any] | None = None,
) -> Rendered:
    """One digest e-mail: items grouped by thing (group), groups newest first (by their newest
    item), items newest first inside a group. IndicatorMeasured of the same (action_number,
    indicator_code) fold into one line per indicator, from the previous_value of the oldest to the
    value of the newest ("passe de 3 à 17 (14 mesures)"); other identical lines within a group fold
    with a count ("(×12)"). No item is ever dropped: each is counted in exactly one line. Kind
    "meeting" is the digest before a meeting (``meeting``: MeetingScheduled data), "what changed
    since the last meeting". No items: a short "nothing changed" digest (the caller decides
    whether to send it)."""
    planned = None
    if kind == "meeting":
        if meeting is None:
            raise ValueError("a meeting digest needs the meeting (MeetingScheduled data)")
        planned = MeetingScheduled.model_validate(dict(meeting))
    groups = digest_groups(items, language, dashboard_url)
    if planned is not None:
        group, link = (
            f"meeting:{planned.meeting_id}",
            _url(dashboard_url, f"/meetings/{quote(planned.meeting_id, safe='')}"),
        )
    else:
        group, link = f"digest:{kind}", _url(dashboard_url, "/")
    variables = {
        "kind": kind,
        "since": since,
        "until": until,
        "meeting": planned,
        "groups": groups,
        "total": len(items),
        "link": link,
    }
    blocks = _blocks(_template("_digest", language), variables)
    return Rendered(
        subject=SUBJECT_PREFIX + one_line(blocks["subject"]),
        body=_email(language, blocks["text"], link),
        line=one_line(blocks["line"]),
        link=link,
        group=group,
        group_title=one_line(blocks["group_title"]),
    )


def render_meeting_reminder(meeting: Mapping[str, Any], language: Language, dashboard_url: str) -> Rendered:
    """The reminder the day before a meeting (meeting = MeetingScheduled/MeetingRescheduled data)."""
    d = MeetingScheduled.model_validate(dict(meeting))
    thing = THINGS["MeetingScheduled"](d)
    link = _url(dashboard_url, thing.path)
    blocks = _blocks(_template("_meeting_reminder", language), {"d": d, "link": link})
    return Rendered(
        subject=SUBJECT_PREFIX + one_line(blocks["subject"]),
        body=_email(language, blocks["text"], link),
        line=one_line(blocks["line"]),
        link=link,
        group=thing.group,
        group_title=one_line(blocks["group_title"]),
    )


def render_footer(language: Language, *, reason: str, unsubscribe_url: str | None, preferences_url: str) -> str:
    """The e-mail's footer: why the contact receives it (``reason``, a sentence the caller writes in
    the language), a one-click unsubscribe link (none for critical messages, which cannot be muted:
    then it says so), and where to manage preferences."""
    variables = {"reason": reason.strip(), "unsubscribe_url": unsubscribe_url, "preferences_url": preferences_url}
    return paragraphs(_template("_footer", language).render(variables))


def render_bounce_alert(
    partner: str, contact_id: int, bounces: int, language: Language, dashboard_url: str
) -> Rendered:
    """Told to the Coordination when a contact's e-mail channel is suspended after hard bounces (no
    personal name in it: the organisation code and the contact number)."""
    link = _url(dashboard_url, f"/notifications/partners/{quote(partner, safe='')}")
    variables = {"partner": partner, "contact_id": contact_id, "bounces": bounces, "link": link}
    blocks = _blocks(_template("_bounce_alert", language), variables)
    return Rendered(
        subject=SUBJECT_PREFIX + one_line(blocks["subject"]),
        body=_email(language, blocks["text"], link),
        line=one_line(blocks["line"]),
        link=link,
        group=f"partner:{partner}",
        group_title=one_line(blocks["group_title"]),
    )


# --- preview: python -m services.notifications.rendering preview IndicatorMeasured nl -------------

PREVIEW_URL = "https://dashboard.passerelle.example"
SPECIAL = ("digest", "weekly-digest", "meeting-digest", "meeting-reminder", "footer", "bounce-alert")


def example(event_type: str) -> Envelope:
    """The contract's example of ``event_type`` (contracts/examples/<Type>.v1.json)."""
    return Envelope.model_validate_json((EXAMPLES / f"{event_type}.v1.json").read_text("utf-8"))


def _example_items() -> list[DigestItem]:
    envelopes = [example(t) for t in SUBSCRIBABLE if (EXAMPLES / f"{t}.v1.json").exists()]
    return [DigestItem(e.event_id, e.event_type, e.occurred_at, e.data) for e in envelopes]


def preview(name: str, language: Language) -> str:
    """What a template gives for the contracts' example(s), as the README shows."""
    if name == "footer":
        reasons = {  # what a caller might say: the caller writes it
            "fr": "Vous recevez ce message parce que votre organisation suit l'action 46.",
            "nl": "U ontvangt dit bericht omdat uw organisatie actie 46 volgt.",
        }
        return render_footer(
            language,
            reason=reasons[language],
            unsubscribe_url=f"{PREVIEW_URL}/unsubscribe/TOKEN",
            preferences_url=f"{PREVIEW_URL}/notifications/preferences",
        )
    meeting = example("MeetingScheduled").data
    if name == "meeting-reminder":
        rendered = render_meeting_reminder(meeting, language, PREVIEW_URL)
    elif name == "bounce-alert":
        rendered = render_bounce_alert("asbl-exemple", 17, 3, language, PREVIEW_URL)
    elif name in ("digest", "weekly-digest", "meeting-digest"):
        items = _example_items()
        kinds: dict[str, Literal["daily", "weekly", "meeting"]] = {
            "digest": "daily",
            "weekly-digest": "weekly",
            "meeting-digest": "meeting",
        }
        kind = kinds[name]
        until = max(item.occurred_at for item in items)
        rendered = render_digest(
            items, language, PREVIEW_URL, kind=kind, since=until - timedelta(days=365 * 4), until=until, meeting=meeting
        )
    else:
        rendered = render(example(name), language, PREVIEW_URL)
    return (
        f"Subject: {rendered.subject}\nLine:    {rendered.line}\nLink:    {rendered.link}\n"
        f"Group:   {rendered.group} — {rendered.group_title}\n\n{rendered.body}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.notifications.rendering", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("preview", help="render a template with the contracts' example")
    show.add_argument("name", help=f"an event type, or one of: {', '.join(SPECIAL)}")
    show.add_argument("language", nargs="?", default="fr", choices=LANGUAGES)
    commands.add_parser("list", help="the event types partners can subscribe to, and their template files")
    args = parser.parse_args(argv)
    if args.command == "list":
        for event_type in SUBSCRIBABLE:
            files = {lang: (TEXTS / lang / f"{event_type}.j2").exists() for lang in LANGUAGES}
            print(event_type, *(f"{lang}:{'ok' if ok else 'MISSING'}" for lang, ok in files.items()))
        return 0
    try:
        print(preview(args.name, args.language), end="")
    except (NoTemplate, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
