"""What partners read: one short e-mail per event, in French or Dutch. Pure functions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any

from passerelle_contracts import Envelope
from passerelle_contracts.common import Language
from passerelle_contracts.i18n import (
    BATCH_MILESTONE,
    FIELD,
    NOTHING,
    RECIPIENT_KIND,
    REPORT_STATUS,
    STATUS,
    TRAFFIC_LIGHT,
    UNIT,
    fmt_date,
    fmt_datetime,
    fmt_number,
    label,
    localized,
)
from passerelle_contracts.i18n import MEETING_KIND as KIND

SIGNATURE = {
    "fr": "— Passerelle, pour la Coordination Inclusion Numérique de la Région de Bruxelles-Capitale",
    "nl": "— Passerelle, voor de Coördinatie Digitale Inclusie van het Brussels Hoofdstedelijk Gewest",
}
GREETING = {"fr": "Bonjour,", "nl": "Goeddag,"}
UNSUBSCRIBE = {
    "fr": "Vous recevez ce message parce que votre organisation est abonnée aux événements « {t} ».",
    "nl": "U ontvangt dit bericht omdat uw organisatie geabonneerd is op de gebeurtenissen „{t}”.",
}


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def _indicator_measured(d: dict[str, Any], lang: Language) -> tuple[str, list[str]]:
    name = localized(lang, d["indicator_name_fr"], d["indicator_name_nl"])
    unit = UNIT[lang].get(d["unit"], d["unit"])
    old, new, target = (
        fmt_number(d["previous_value"], lang),
        fmt_number(d["value"], lang),
        fmt_number(d["target"], lang),
    )
    n = d["action_number"]
    if lang == "fr":
        subject = f"Action {n} : « {name} » passe de {old} à {new}"
        lines = [f"L'indicateur « {name} » de l'action {n} est passé de {old} à {new} {unit}."]
        if d["target"] is not None:
            lines.append(f"Cible : {target} {unit}.")
        lines.append(f"Date de la mesure : {d['measured_on']}.")
        if d["origin"] == "derived":
            lines.append("Cette mesure est dérivée automatiquement d'un événement d'un autre service de Passerelle.")
    else:
        subject = f"Actie {n}: „{name}” gaat van {old} naar {new}"
        lines = [f"De indicator „{name}” van actie {n} is gewijzigd van {old} naar {new} {unit}."]
        if d["target"] is not None:
            lines.append(f"Doel: {target} {unit}.")
        lines.append(f"Datum van de meting: {d['measured_on']}.")
        if d["origin"] == "derived":
            lines.append("Deze meting is automatisch afgeleid van een gebeurtenis uit een andere Passerelle-dienst.")
    return subject, lines


def _status_changed(d: dict[str, Any], lang: Language) -> tuple[str, list[str]]:
    n = d["action_number"]
    title = localized(lang, d["title_fr"], d["title_nl"])
    old, new = label(STATUS, lang, d["previous_status"]), label(STATUS, lang, d["status"])
    light = TRAFFIC_LIGHT[lang].get(d["traffic_light"] or "", "")
    if lang == "fr":
        subject = f"Action {n} : statut « {new} »"
        lines = [f"Le statut de l'action {n} « {title} » est passé de « {old} » à « {new} »."]
        if light:
            lines.append(f"Météo : {light}.")
        if d["note"]:
            lines.append(f"Note : {d['note']}")
    else:
        subject = f"Actie {n}: status „{new}”"
        lines = [f"De status van actie {n} „{title}” is gewijzigd van „{old}” naar „{new}”."]
        if light:
            lines.append(f"Stand van zaken: {light}.")
        if d["note"]:
            lines.append(f"Opmerking: {d['note']}")
    return subject, lines


def _devices_delivered(d: dict[str, Any], lang: Language) -> tuple[str, list[str]]:
    total, kind = fmt_number(d["total_devices"], lang), label(RECIPIENT_KIND, lang, d["recipient_kind"])
    if lang == "fr":
        return f"{total} appareils livrés à {d['recipient']}", [
            f"{total} appareils reconditionnés ont été livrés le {d['delivered_on']} à {d['recipient']} ({kind})."
        ]
    return f"{total} toestellen geleverd aan {d['recipient']}", [
        f"Op {d['delivered_on']} werden {total} gereviseerde toestellen geleverd aan {d['recipient']} ({kind})."
    ]


def _grant_awarded(d: dict[str, Any], lang: Language) -> tuple[str, list[str]]:
    amount = fmt_number(d["amount_eur"], lang)
    if lang == "fr":
        return f"Subvention de {amount} € accordée à {d['beneficiary']}", [
            f"Une subvention de {amount} € a été accordée le {d['awarded_on']} à {d['beneficiary']} (appel {d['call_code']})."
        ]
    return f"Subsidie van {amount} € toegekend aan {d['beneficiary']}", [
        f"Op {d['awarded_on']} werd een subsidie van {amount} € toegekend aan {d['beneficiary']} (oproep {d['call_code']})."
    ]


STAGE = {
    "fr": {"t-14": "dans 14 jours", "t-7": "dans 7 jours", "due": "aujourd'hui", "overdue": "en retard"},
    "nl": {"t-14": "over 14 dagen", "t-7": "over 7 dagen", "due": "vandaag", "overdue": "te laat"},
}
REPORT_KIND = {"fr": {"interim": "intermédiaire", "final": "final"}, "nl": {"interim": "tussentijds", "final": "eind"}}


def _reporting_reminder(d: dict[str, Any], lang: Language) -> tuple[str, list[str]]:
    stage, kind = d["stage"], REPORT_KIND[lang][d["kind"]]
    due = fmt_date(date.fromisoformat(d["due_on"]), lang)
    if lang == "fr":
        subject = f"Rapport {kind} {'en retard' if stage == 'overdue' else 'à remettre ' + STAGE['fr'][stage]}"
        line = f"Le rapport {kind} de la subvention {d['grant_id']} ({d['beneficiary']}) est dû le {due}."
        more = "Il n'a pas été remis : la Coordination en est informée." if stage == "overdue" else ""
        return subject, [line, more] if more else [line]
    subject = f"{kind.capitalize()}rapport {'te laat' if stage == 'overdue' else 'in te dienen ' + STAGE['nl'][stage]}"
    line = f"Het {kind}rapport van subsidie {d['grant_id']} ({d['beneficiary']}) moet uiterlijk {due} ingediend zijn."
    more = "Het werd niet ingediend: de Coördinatie is op de hoogte." if stage == "overdue" else ""
    return subject, [line, more] if more else [line]


def _call_closing(d: dict[str, Any], lang: Language) -> tuple[str, list[str]]:
    closes = fmt_datetime(datetime.fromisoformat(d["closes_at"]), lang)
    if lang == "fr":
        return f"Appel {d['call_code']} : clôture {STAGE['fr'][d['stage']]}", [
            f"L'appel {d['call_code']} se clôture le {closes}. Les candidatures reçues après sont refusées."
        ]
    return f"Oproep {d['call_code']}: sluit {STAGE['nl'][d['stage']]}", [
        f"De oproep {d['call_code']} sluit op {closes}. Aanvragen die later binnenkomen, worden geweigerd."
    ]


def _return_reminder(d: dict[str, Any], lang: Language) -> tuple[str, list[str]]:
    due = fmt_date(date.fromisoformat(d["due_on"]), lang)
    quarter = f"T{d['quarter']} {d['year']}" if lang == "fr" else f"K{d['quarter']} {d['year']}"
    if lang == "fr":
        state = "en retard" if d["stage"] == "overdue" else f"à remettre {STAGE['fr'][d['stage']]}"
        return f"Relevé d'activité {quarter} de {d['epn']} {state}", [
            f"Le relevé d'activité du trimestre {quarter} de {d['epn']} est attendu pour le {due} (des comptages, jamais de noms)."
        ]
    state = "te laat" if d["stage"] == "overdue" else f"in te dienen {STAGE['nl'][d['stage']]}"
    return f"Activiteitenverslag {quarter} van {d['epn']} {state}", [
        f"Het activiteitenverslag van kwartaal {quarter} van {d['epn']} wordt verwacht uiterlijk {due} (aantallen, nooit namen)."
    ]


WHAT = {
    "fr": {
        "ActionDetailsChanged": "Fiche modifiée",
        "ActionProgressUpdated": "Avancement mis à jour",
        "MilestonePlanned": "Jalon planifié",
        "MilestoneReached": "Jalon atteint",
        "IndicatorDefined": "Indicateur défini",
        "ReportSubmitted": "Rapport soumis",
        "ReportApproved": "Rapport approuvé",
        "ReportReturned": "Rapport renvoyé",
    },
    "nl": {
        "ActionDetailsChanged": "Fiche gewijzigd",
        "ActionProgressUpdated": "Voortgang bijgewerkt",
        "MilestonePlanned": "Mijlpaal gepland",
        "MilestoneReached": "Mijlpaal bereikt",
        "IndicatorDefined": "Indicator vastgelegd",
        "ReportSubmitted": "Verslag ingediend",
        "ReportApproved": "Verslag goedgekeurd",
        "ReportReturned": "Verslag teruggestuurd",
    },
}


def _value(field: str, value: Any, lang: Language) -> str:
    if value is None or value == "":
        return NOTHING
    if field == "status":  # an action's status or a report's: their codes do not overlap
        known = STATUS if str(value) in STATUS[lang] else REPORT_STATUS
        return label(known, lang, str(value))
    if field == "traffic_light":
        return label(TRAFFIC_LIGHT, lang, str(value))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return fmt_number(value, lang)
    return str(value)


def _changes(event_type: str, d: dict[str, Any], lang: Language) -> tuple[str, list[str]]:
    """Any action event that carries its changes: one line per changed field, old → new."""
    what, n = WHAT[lang].get(event_type, event_type), d["action_number"]
    word, colon = ("Action", " :") if lang == "fr" else ("Actie", ":")
    lines = [f"{what} ({word.lower()} {n}){colon}"]
    for change in d.get("changes", []):
        field = change["field"]
        label = FIELD[lang].get(field, field)
        lines.append(f"– {label}{colon} {_value(field, change['old'], lang)} → {_value(field, change['new'], lang)}")
    return f"{word} {n}{colon} {what}", lines


def _milestone_overdue(d: dict[str, Any], lang: Language) -> tuple[str, list[str]]:
    title = localized(lang, d["title_fr"], d["title_nl"])
    if lang == "fr":
        return f"Action {d['action_number']} : jalon en retard", [
            (
                f"Le jalon « {title} » de l'action {d['action_number']}, prévu le {d['planned_on']}, "
                f"n'est pas atteint ({d['days_overdue']} jours de retard au {d['as_of']})."
            )
        ]
    return f"Actie {d['action_number']}: mijlpaal achterstallig", [
        (
            f"De mijlpaal „{title}” van actie {d['action_number']}, gepland op {d['planned_on']}, "
            f"is niet bereikt ({d['days_overdue']} dagen achterstand op {d['as_of']})."
        )
    ]


def _meeting_held(d: dict[str, Any], lang: Language) -> tuple[str, list[str]]:
    kind = label(KIND, lang, d["kind"])
    items = [f"– {item['title']}" for item in d["agenda"]]
    if lang == "fr":
        return f"{kind} du {d['held_on']}", [
            f"{kind} tenu le {d['held_on']}, {len(d['attendees'])} organisations présentes.",
            *(["Ordre du jour :", *items] if items else []),
        ]
    return f"{kind} van {d['held_on']}", [
        f"{kind} gehouden op {d['held_on']}, {len(d['attendees'])} organisaties aanwezig.",
        *(["Agenda:", *items] if items else []),
    ]


def _decision_recorded(d: dict[str, Any], lang: Language) -> tuple[str, list[str]]:
    kind = label(KIND, lang, d["meeting_kind"])
    if lang == "fr":
        return f"Action {d['action_number']} : décision du {kind}", [f"{kind} du {d['held_on']} : {d['decision']}"]
    return f"Actie {d['action_number']}: beslissing van de {kind}", [f"{kind} van {d['held_on']}: {d['decision']}"]


def _annual_report(d: dict[str, Any], lang: Language) -> tuple[str, list[str]]:
    if lang == "fr":
        return f"Rapport annuel {d['year']} publié", [
            f"Le rapport annuel {d['year']} au Gouvernement (situation au {d['as_of']}) est publié : {d['actions']} actions.",
            "Fichiers : " + ", ".join(sorted(d["files"])),
        ]
    return f"Jaarverslag {d['year']} gepubliceerd", [
        f"Het jaarverslag {d['year']} aan de Regering (stand op {d['as_of']}) is gepubliceerd: {d['actions']} acties.",
        "Bestanden: " + ", ".join(sorted(d["files"])),
    ]


def _batch_milestone(d: dict[str, Any], lang: Language) -> tuple[str, list[str]]:
    what = label(BATCH_MILESTONE, lang, d["milestone"])
    if lang == "fr":
        return f"Votre lot {d['reference']} : {what}", [
            f"Votre lot {d['reference']} ({fmt_number(d['declared'], lang)} appareils déclarés) est {what}.",
            (
                f"Reçus : {fmt_number(d['received'], lang)} · effacés : {fmt_number(d['wiped'], lang)} · "
                f"échecs d'effacement : {fmt_number(d['failed'], lang)} · livrés : {fmt_number(d['delivered'], lang)}."
            ),
        ]
    return f"Uw partij {d['reference']}: {what}", [
        f"Uw partij {d['reference']} ({fmt_number(d['declared'], lang)} aangegeven toestellen) is {what}.",
        (
            f"Ontvangen: {fmt_number(d['received'], lang)} · gewist: {fmt_number(d['wiped'], lang)} · "
            f"mislukte wissingen: {fmt_number(d['failed'], lang)} · geleverd: {fmt_number(d['delivered'], lang)}."
        ),
    ]


RENDERERS: dict[str, Callable[[dict[str, Any], Language], tuple[str, list[str]]]] = {
    "IndicatorMeasured": _indicator_measured,
    "ActionStatusChanged": _status_changed,
    "DevicesDelivered": _devices_delivered,
    "GrantAwarded": _grant_awarded,
    "MilestoneOverdue": _milestone_overdue,
    "MeetingHeld": _meeting_held,
    "DecisionRecorded": _decision_recorded,
    "AnnualReportPublished": _annual_report,
    "BatchMilestoneReached": _batch_milestone,
    "ReportingReminder": _reporting_reminder,
    "CallClosingSoon": _call_closing,
    "ActivityReturnReminder": _return_reminder,
    **{t: partial(_changes, t) for t in WHAT["fr"]},
}


def render(envelope: Envelope, language: Language) -> Message:
    subject, lines = RENDERERS[envelope.event_type](envelope.data, language)
    body = "\n\n".join(
        [GREETING[language], *lines, UNSUBSCRIBE[language].format(t=envelope.event_type), SIGNATURE[language]]
    )
    return Message(subject=f"[Passerelle] {subject}", body=body + "\n")
