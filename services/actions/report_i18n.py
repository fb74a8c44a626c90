"""French and Dutch labels and number/date formatting for the annual report (``report_render``).
Codes the dictionaries do not know (a new status, a free-text unit) are shown as they are."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

# Shared with every service and partner through the contracts; re-exported for report_render.
from passerelle_contracts.labels import FIELD as FIELD
from passerelle_contracts.labels import MEETING_KIND as MEETING_KIND
from passerelle_contracts.labels import STATUS as STATUS
from passerelle_contracts.labels import TRAFFIC_LIGHT as TRAFFIC_LIGHT
from passerelle_contracts.labels import UNIT as UNIT

Language = Literal["fr", "nl"]
LANGUAGES: tuple[Language, ...] = ("fr", "nl")

NNBSP = "\u202f"  # narrow no-break space: the French thousands separator

STATUS_ORDER = ("not_started", "planned", "in_progress", "on_hold", "completed", "abandoned")



MILESTONE_STATE: dict[Language, dict[str, str]] = {
    "fr": {"reached": "atteint", "overdue": "en retard", "planned": "prévu"},
    "nl": {"reached": "bereikt", "overdue": "achterstallig", "planned": "gepland"},
}




TEXT: dict[Language, dict[str, str]] = {
    "fr": {
        "report": "Rapport annuel",
        "situation": "Situation au",
        "generated": "Généré le",
        "page": "Page",
        "summary": "Synthèse",
        "by_status": "Actions par statut",
        "status": "Statut",
        "count": "Nombre",
        "total": "Total",
        "axis_progress": "Avancement par axe",
        "progress": "Avancement",
        "meetings": "Réunions de gouvernance",
        "no_meetings": "Aucune réunion de gouvernance enregistrée pour l'année.",
        "date": "Date",
        "kind": "Instance",
        "attendees": "Organisations présentes",
        "decisions": "Décisions",
        "axis": "Axe",
        "chantier": "Chantier",
        "action": "Action",
        "lead": "Pilote",
        "partners": "Partenaires",
        "traffic_light": "Feu",
        "note": "Note",
        "indicators": "Indicateurs",
        "indicator": "Indicateur",
        "unit": "Unité",
        "baseline": "Référence",
        "start_of_year": "Début d'année",
        "as_of": "Au",
        "target": "Cible",
        "pct_target": "% de la cible",
        "milestones": "Jalons",
        "milestone": "Jalon",
        "planned_on": "Prévu le",
        "reached_on": "Atteint le",
        "state": "État",
        "changes": "Ce qui a changé pendant l'année",
        "field": "Champ",
        "change": "Ancienne → nouvelle valeur",
        "method": "Méthode",
        "method_intro": "Règle de calcul de l'avancement des chantiers et des axes (texte original en anglais) :",
        "yes": "oui",
        "no": "non",
    },
    "nl": {
        "report": "Jaarverslag",
        "situation": "Stand van zaken op",
        "generated": "Gegenereerd op",
        "page": "Pagina",
        "summary": "Samenvatting",
        "by_status": "Acties per status",
        "status": "Status",
        "count": "Aantal",
        "total": "Totaal",
        "axis_progress": "Voortgang per as",
        "progress": "Voortgang",
        "meetings": "Bestuursvergaderingen",
        "no_meetings": "Geen bestuursvergaderingen geregistreerd voor dit jaar.",
        "date": "Datum",
        "kind": "Orgaan",
        "attendees": "Aanwezige organisaties",
        "decisions": "Beslissingen",
        "axis": "As",
        "chantier": "Werf",
        "action": "Actie",
        "lead": "Trekker",
        "partners": "Partners",
        "traffic_light": "Verkeerslicht",
        "note": "Nota",
        "indicators": "Indicatoren",
        "indicator": "Indicator",
        "unit": "Eenheid",
        "baseline": "Referentie",
        "start_of_year": "Begin van het jaar",
        "as_of": "Op",
        "target": "Doel",
        "pct_target": "% van het doel",
        "milestones": "Mijlpalen",
        "milestone": "Mijlpaal",
        "planned_on": "Gepland op",
        "reached_on": "Bereikt op",
        "state": "Stand",
        "changes": "Wat er tijdens het jaar veranderde",
        "field": "Veld",
        "change": "Oude → nieuwe waarde",
        "method": "Methode",
        "method_intro": "Berekening van de voortgang van werven en assen (oorspronkelijke tekst in het Engels):",
        "yes": "ja",
        "no": "nee",
    },
}

MONTHS: dict[Language, tuple[str, ...]] = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin",
           "juillet", "août", "septembre", "octobre", "novembre", "décembre"),
    "nl": ("januari", "februari", "maart", "april", "mei", "juni",
           "juli", "augustus", "september", "oktober", "november", "december"),
}  # fmt: skip


def label(table: dict[Language, dict[str, str]], language: Language, code: str | None) -> str:
    """The translation of ``code``, the code itself when unknown, "—" for None."""
    if code is None or code == "":
        return "—"
    return table[language].get(code, code)


def localized(language: Language, fr: str, nl: str) -> str:
    """The Dutch text when asked for and present, else the French one."""
    return nl if language == "nl" and nl.strip() else fr


def fmt_number(value: float, language: Language, decimals: int = 2) -> str:
    """Up to ``decimals`` decimals, trailing zeros dropped: fr "1 234,5" (U+202F), nl "1.234,5"."""
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    thousands = NNBSP if language == "fr" else "."
    return text.replace(",", "\0").replace(".", ",").replace("\0", thousands)


def fmt_percent(value: float, language: Language) -> str:
    return f"{fmt_number(value, language, 1)}{NNBSP if language == 'fr' else ''}%"


def fmt_date(value: date, language: Language) -> str:
    """ "1er janvier 2024", "31 décembre 2024"; "1 januari 2024"."""
    day = "1er" if language == "fr" and value.day == 1 else str(value.day)
    return f"{day} {MONTHS[language][value.month - 1]} {value.year}"


def fmt_datetime(value: datetime, language: Language) -> str:
    zone = f" {value.tzname()}" if value.tzinfo is not None else ""
    sep = " à " if language == "fr" else " om "
    return f"{fmt_date(value.date(), language)}{sep}{value:%H:%M}{zone}"
