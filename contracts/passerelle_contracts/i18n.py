"""French and Dutch for people: the labels of the codes events carry, and numbers, percentages,
dates and times written as the Region's partners read them. E-mails, annual reports, device
certificates and the dashboard use this module, so a status or an amount reads the same in all
of them.

Pure functions with no locale and no I/O: the same text on every machine, which keeps documents
rebuilt later byte-identical. A code a table does not know (a new status, a free-text unit) is
shown as it is; nothing (``None`` or ``""``) is shown as "—".

French writes ``1 234,5`` (a narrow no-break space, U+202F, between thousands) and ``61,7 %``;
Dutch writes ``1.234,5`` and ``61,7%``. Numbers are rounded half up, as people round.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext

from .common import LANGUAGES, Language

Labels = dict[Language, dict[str, str]]

NNBSP = "\u202f"  # narrow no-break space: the French thousands separator, and before "%"
NOTHING = "—"  # what is shown for a missing value

# --- labels of codes ----------------------------------------------------------------------------

STATUS: Labels = {
    "fr": {"not_started": "non commencée", "planned": "planifiée", "in_progress": "en cours", "on_hold": "suspendue",
           "completed": "terminée", "abandoned": "abandonnée"},
    "nl": {"not_started": "niet gestart", "planned": "gepland", "in_progress": "lopend", "on_hold": "opgeschort",
           "completed": "afgerond", "abandoned": "stopgezet"},
}  # fmt: skip
TRAFFIC_LIGHT: Labels = {
    "fr": {"on_track": "dans les temps", "at_risk": "à risque", "off_track": "en retard"},
    "nl": {"on_track": "op schema", "at_risk": "risico", "off_track": "achter op schema"},
}
REPORT_STATUS: Labels = {
    "fr": {"draft": "brouillon", "submitted": "soumis", "approved": "approuvé", "returned": "renvoyé"},
    "nl": {"draft": "ontwerp", "submitted": "ingediend", "approved": "goedgekeurd", "returned": "teruggestuurd"},
}
MEETING_KIND: Labels = {
    "fr": {"working_group": "Groupe de travail", "copil": "Comité de pilotage (COPIL)"},
    "nl": {"working_group": "Werkgroep", "copil": "Stuurcomité (COPIL)"},
}
# A meeting's kind with its article, for sentences: "van de Werkgroep", "van het Stuurcomité (COPIL)".
MEETING_KIND_THE: Labels = {
    "fr": {"working_group": "le Groupe de travail", "copil": "le Comité de pilotage (COPIL)"},
    "nl": {"working_group": "de Werkgroep", "copil": "het Stuurcomité (COPIL)"},
}
UNIT: Labels = {
    "fr": {"devices": "appareils", "grants": "subventions", "meetings": "réunions", "EPN": "EPN",
           "returns": "relevés d'activité"},
    "nl": {"devices": "toestellen", "grants": "subsidies", "meetings": "vergaderingen", "EPN": "OCR's",
           "returns": "activiteitenverslagen"},
}  # fmt: skip
RECIPIENT_KIND: Labels = {
    "fr": {"secondary-school": "école secondaire", "homework-school": "école de devoirs",
           "pupils-association": "association d'aide aux élèves", "retirement-home": "maison de repos", "epn": "EPN",
           "first-line-actor": "acteur de première ligne", "cpas": "CPAS", "non-profit": "association"},
    "nl": {"secondary-school": "secundaire school", "homework-school": "huiswerkschool",
           "pupils-association": "vereniging voor leerlingenbegeleiding", "retirement-home": "rusthuis", "epn": "OCR",
           "first-line-actor": "eerstelijnsactor", "cpas": "OCMW", "non-profit": "vzw"},
}  # fmt: skip
LABEL_STATUS: Labels = {
    "fr": {"candidate": "candidat", "labelled": "labellisé", "suspended": "label suspendu", "withdrawn": "label retiré"},
    "nl": {"candidate": "kandidaat", "labelled": "gelabeld", "suspended": "label geschorst",
           "withdrawn": "label ingetrokken"},
}  # fmt: skip
FUNDER_KIND: Labels = {
    "fr": {"region": "Région de Bruxelles-Capitale", "esf": "Fonds social européen (FSE)", "federal": "État fédéral",
           "cocof": "COCOF", "vgc": "VGC", "fwb": "Fédération Wallonie-Bruxelles", "commune": "commune",
           "foundation": "fondation", "other": "autre"},
    "nl": {"region": "Brussels Hoofdstedelijk Gewest", "esf": "Europees Sociaal Fonds (ESF)", "federal": "federale overheid",
           "cocof": "COCOF", "vgc": "VGC", "fwb": "Federatie Wallonië-Brussel", "commune": "gemeente",
           "foundation": "stichting", "other": "andere"},
}  # fmt: skip
REMINDER_STAGE: Labels = {
    "fr": {"t-14": "dans 14 jours", "t-7": "dans 7 jours", "due": "aujourd'hui", "overdue": "en retard"},
    "nl": {"t-14": "over 14 dagen", "t-7": "over 7 dagen", "due": "vandaag", "overdue": "te laat"},
}
APPLICATION_DECISION: Labels = {
    "fr": {"granted": "accordée", "partially-granted": "accordée en partie", "refused": "refusée"},
    "nl": {"granted": "toegekend", "partially-granted": "gedeeltelijk toegekend", "refused": "geweigerd"},
}
AGE_BAND: Labels = {
    "fr": {"under-18": "moins de 18 ans", "18-29": "18 à 29 ans", "30-54": "30 à 54 ans", "55-64": "55 à 64 ans",
           "65-plus": "65 ans et plus"},
    "nl": {"under-18": "jonger dan 18", "18-29": "18 tot 29 jaar", "30-54": "30 tot 54 jaar", "55-64": "55 tot 64 jaar",
           "65-plus": "65 jaar en ouder"},
}  # fmt: skip
GENDER: Labels = {
    "fr": {"women": "femmes", "men": "hommes", "non-binary": "non binaires", "not-stated": "non précisé"},
    "nl": {"women": "vrouwen", "men": "mannen", "non-binary": "non-binair", "not-stated": "niet vermeld"},
}
EMPLOYMENT_STATUS: Labels = {
    "fr": {"employed": "à l'emploi", "unemployed": "demandeurs d'emploi", "long-term-unemployed": "chômeurs de longue durée",
           "inactive": "inactifs", "not-stated": "non précisé"},
    "nl": {"employed": "werkend", "unemployed": "werkzoekend", "long-term-unemployed": "langdurig werkloos",
           "inactive": "inactief", "not-stated": "niet vermeld"},
}  # fmt: skip
EDUCATION_LEVEL: Labels = {
    "fr": {"isced-0-2": "secondaire inférieur au plus (CITE 0-2)", "isced-3-4": "secondaire supérieur (CITE 3-4)",
           "isced-5-8": "enseignement supérieur (CITE 5-8)", "not-stated": "non précisé"},
    "nl": {"isced-0-2": "hoogstens lager secundair (ISCED 0-2)", "isced-3-4": "hoger secundair (ISCED 3-4)",
           "isced-5-8": "hoger onderwijs (ISCED 5-8)", "not-stated": "niet vermeld"},
}  # fmt: skip
DEVICE_KIND: Labels = {
    "fr": {"laptop": "ordinateur portable", "desktop": "ordinateur de bureau", "tablet": "tablette",
           "chromebook": "Chromebook", "screen": "écran", "other": "autre"},
    "nl": {"laptop": "laptop", "desktop": "desktop", "tablet": "tablet", "chromebook": "Chromebook", "screen": "scherm",
           "other": "ander"},
}  # fmt: skip
# A donor's batch (``BatchMilestoneReached.milestone``): "votre lot est reçu", "uw partij is ontvangen".
BATCH_MILESTONE: Labels = {
    "fr": {"received": "reçu", "sanitised": "effacé", "delivered": "livré"},
    "nl": {"received": "ontvangen", "sanitised": "gewist", "delivered": "geleverd"},
}
# The fields named in events' ``changes``.
FIELD: Labels = {
    "fr": {"status": "statut", "traffic_light": "feu tricolore", "status_note": "note de statut", "progress": "avancement",
           "title_fr": "titre (fr)", "title_nl": "titre (nl)", "lead": "pilote", "partners": "partenaires",
           "publics": "publics", "weight": "poids", "planned_on": "date prévue", "reached_on": "date atteinte",
           "comment": "commentaire", "value": "valeur", "name_fr": "nom", "unit": "unité",
           "baseline": "situation de départ", "target": "cible", "period": "période",
           "physical": "état", "grade": "grade", "sanitisation": "effacement", "epn_name": "nom de l'EPN",
           "operator": "gestionnaire", "address": "adresse", "postcode": "code postal", "commune": "commune",
           "hours_per_week": "heures d'ouverture par semaine", "computers": "ordinateurs", "tablets": "tablettes",
           "languages": "langues", "accessible": "accessible aux PMR", "beneficiary_kind": "type de bénéficiaire",
           "funder": "financeur", "funder_name": "nom du financeur", "programme": "programme",
           "committed_eur": "montant engagé", "paid_eur": "montant payé", "cofinancing_pct": "taux de cofinancement",
           "amount_eur": "montant", "tranche": "tranche", "ends_on": "date de fin",
           "final_report_due_on": "échéance du rapport final", "starts_at": "début", "ends_at": "fin",
           "location": "lieu", "agenda": "ordre du jour", "invited": "invités", "label_status": "label"},
    "nl": {"status": "status", "traffic_light": "verkeerslicht", "status_note": "statusnota", "progress": "voortgang",
           "title_fr": "titel (fr)", "title_nl": "titel (nl)", "lead": "trekker", "partners": "partners",
           "publics": "doelgroepen", "weight": "gewicht", "planned_on": "geplande datum", "reached_on": "bereikt op",
           "comment": "commentaar", "value": "waarde", "name_fr": "naam", "unit": "eenheid", "baseline": "beginsituatie",
           "target": "doel", "period": "periode",
           "physical": "toestand", "grade": "klasse", "sanitisation": "wissing", "epn_name": "naam van de OCR",
           "operator": "beheerder", "address": "adres", "postcode": "postcode", "commune": "gemeente",
           "hours_per_week": "openingsuren per week", "computers": "computers", "tablets": "tablets",
           "languages": "talen", "accessible": "toegankelijk voor PBM", "beneficiary_kind": "soort begunstigde",
           "funder": "financier", "funder_name": "naam van de financier", "programme": "programma",
           "committed_eur": "vastgelegd bedrag", "paid_eur": "betaald bedrag", "cofinancing_pct": "cofinancieringspercentage",
           "amount_eur": "bedrag", "tranche": "schijf", "ends_on": "einddatum",
           "final_report_due_on": "termijn van het eindverslag", "starts_at": "begin", "ends_at": "einde",
           "location": "plaats", "agenda": "agenda", "invited": "genodigden", "label_status": "label"},
}  # fmt: skip
# The plural of ``DEVICE_KIND``, after a count: "20 ordinateurs portables", "20 laptops".
DEVICE_KIND_PLURAL: Labels = {
    "fr": {"laptop": "ordinateurs portables", "desktop": "ordinateurs de bureau", "tablet": "tablettes",
           "chromebook": "Chromebooks", "screen": "écrans", "other": "autres appareils"},
    "nl": {"laptop": "laptops", "desktop": "desktops", "tablet": "tablets", "chromebook": "Chromebooks",
           "screen": "schermen", "other": "andere toestellen"},
}  # fmt: skip
PUBLIC: Labels = {
    "fr": {"job-seekers": "chercheurs d'emploi", "young-people": "jeunes", "seniors": "seniors",
           "people-with-disabilities": "personnes en situation de handicap", "precarious": "publics précarisés",
           "women": "femmes", "civil-servants": "agents publics", "teachers": "enseignants",
           "general-public": "tout public", "first-line-actors": "acteurs de première ligne"},
    "nl": {"job-seekers": "werkzoekenden", "young-people": "jongeren", "seniors": "senioren",
           "people-with-disabilities": "personen met een handicap", "precarious": "kwetsbare doelgroepen",
           "women": "vrouwen", "civil-servants": "ambtenaren", "teachers": "leerkrachten",
           "general-public": "breed publiek", "first-line-actors": "eerstelijnsactoren"},
}  # fmt: skip
# Languages an EPN is served in (ISO 639-1); another code is shown as it is.
LANGUAGE_NAME: Labels = {
    "fr": {"fr": "français", "nl": "néerlandais", "en": "anglais", "de": "allemand", "es": "espagnol",
           "it": "italien", "pt": "portugais", "ar": "arabe", "tr": "turc", "pl": "polonais", "ro": "roumain",
           "ru": "russe", "uk": "ukrainien"},
    "nl": {"fr": "Frans", "nl": "Nederlands", "en": "Engels", "de": "Duits", "es": "Spaans", "it": "Italiaans",
           "pt": "Portugees", "ar": "Arabisch", "tr": "Turks", "pl": "Pools", "ro": "Roemeens", "ru": "Russisch",
           "uk": "Oekraïens"},
}  # fmt: skip
YES_NO: Labels = {"fr": {"true": "oui", "false": "non"}, "nl": {"true": "ja", "false": "nee"}}
PHYSICAL_STATE: Labels = {
    "fr": {"received": "reçu", "to_repair": "à réparer", "refurbished": "reconditionné", "for_parts": "pour pièces",
           "disposed": "éliminé"},
    "nl": {"received": "ontvangen", "to_repair": "te herstellen", "refurbished": "gereviseerd",
           "for_parts": "voor onderdelen", "disposed": "afgevoerd"},
}  # fmt: skip
SANITISATION_STATE: Labels = {
    "fr": {"pending": "en attente", "wiped": "effacé", "failed": "effacement échoué", "destroyed": "support détruit"},
    "nl": {"pending": "wachtend", "wiped": "gewist", "failed": "wissing mislukt", "destroyed": "drager vernietigd"},
}
DONOR_KIND: Labels = {
    "fr": {"regional-administration": "administration régionale", "regional-public-body": "organisme public régional",
           "other": "autre donateur"},
    "nl": {"regional-administration": "gewestelijke administratie", "regional-public-body": "gewestelijke instelling",
           "other": "andere schenker"},
}  # fmt: skip
# A recipient's request for devices: its status, which is the review's decision once reviewed.
REQUEST_STATUS: Labels = {
    "fr": {"submitted": "introduite", "accepted": "acceptée", "partially_accepted": "acceptée en partie",
           "refused": "refusée"},
    "nl": {"submitted": "ingediend", "accepted": "aanvaard", "partially_accepted": "gedeeltelijk aanvaard",
           "refused": "geweigerd"},
}  # fmt: skip
BENEFICIARY_KIND: Labels = {
    "fr": {"epn": "EPN", "non-profit": "association", "public-body": "organisme public"},
    "nl": {"epn": "OCR", "non-profit": "vzw", "public-body": "openbare instelling"},
}
CALL_KIND: Labels = {
    "fr": {"regional-call": "appel à projets régional", "esf": "Fonds social européen (FSE)",
           "epn-register": "registre des EPN", "other": "autre appel"},
    "nl": {"regional-call": "gewestelijke projectoproep", "esf": "Europees Sociaal Fonds (ESF)",
           "epn-register": "register van de OCR's", "other": "andere oproep"},
}  # fmt: skip
CALL_MANAGEMENT: Labels = {
    "fr": {"run": "géré dans Passerelle", "tracked": "suivi pour les partenaires"},
    "nl": {"run": "beheerd in Passerelle", "tracked": "opgevolgd voor de partners"},
}
COST_OPTION: Labels = {
    "fr": {"real-costs": "coûts réels", "flat-rate": "taux forfaitaire", "unit-cost": "coûts unitaires",
           "lump-sum": "montant forfaitaire"},
    "nl": {"real-costs": "werkelijke kosten", "flat-rate": "forfaitair percentage", "unit-cost": "eenheidskosten",
           "lump-sum": "forfaitair bedrag"},
}  # fmt: skip
# A report a grant asks (``ReportingReminder.kind``, ``GrantReportSubmitted.kind``).
DUTY_KIND: Labels = {
    "fr": {"interim": "rapport intermédiaire", "final": "rapport final"},
    "nl": {"interim": "tussentijds verslag", "final": "eindverslag"},
}
RECLAIM_REASON: Labels = {
    "fr": {"overpayment": "trop-perçu", "ineligible-costs": "dépenses non éligibles", "unspent": "montant non dépensé"},
    "nl": {"overpayment": "te veel betaald", "ineligible-costs": "niet-subsidiabele uitgaven",
           "unspent": "niet-bestede middelen"},
}  # fmt: skip
AMENDMENT_KIND: Labels = {
    "fr": {"extension": "prolongation", "budget-revision": "révision du budget"},
    "nl": {"extension": "verlenging", "budget-revision": "budgetherziening"},
}
PROGRESS_MODE: Labels = {
    "fr": {"manual": "saisi par le pilote", "milestones": "calculé d'après les jalons"},
    "nl": {"manual": "ingevoerd door de trekker", "milestones": "berekend op basis van de mijlpalen"},
}
MONTHS: dict[Language, tuple[str, ...]] = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin",
           "juillet", "août", "septembre", "octobre", "novembre", "décembre"),
    "nl": ("januari", "februari", "maart", "april", "mei", "juni",
           "juli", "augustus", "september", "oktober", "november", "december"),
}  # fmt: skip


WEEKDAYS: dict[Language, tuple[str, ...]] = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
}


def as_language(code: str) -> Language:
    """``code`` as a Language; a ValueError naming the languages for anything else."""
    for language in LANGUAGES:
        if code == language:
            return language
    raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {code!r}")


def label(labels: Labels, language: Language, code: str | None) -> str:
    """The translation of ``code``; the code itself when the table does not know it; "—" for nothing."""
    if code is None or code == "":
        return NOTHING
    return labels[language].get(code, code)


def localized(language: Language, fr: str, nl: str) -> str:
    """The Dutch text when Dutch is asked for and there is one, else the French one."""
    return nl if language == "nl" and nl.strip() else fr


def month_name(month: int, language: Language) -> str:
    """The month's name in lower case: 3 -> "mars" / "maart"."""
    return MONTHS[language][month - 1]


def weekday_name(value: date, language: Language) -> str:
    """The day of the week in lower case: "mardi" / "dinsdag"."""
    return WEEKDAYS[language][value.weekday()]


def fmt_number(value: float | Decimal | str | None, language: Language, decimals: int = 2) -> str:
    """At most ``decimals`` decimals, rounded half up, trailing zeros dropped: 1234.5 -> fr
    "1 234,5" (U+202F), nl "1.234,5"; 15000 -> "15 000" / "15.000"; None -> "—".

    Floats are read as the shortest decimal that prints them (2.675 is 2.675, not the binary
    2.67499…), so what is shown is what a person rounding the printed value would write.
    """
    if value is None:
        return NOTHING
    exact = value if isinstance(value, Decimal) else Decimal(str(value))
    with localcontext() as context:
        context.rounding = ROUND_HALF_UP
        text = f"{exact:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    thousands = NNBSP if language == "fr" else "."
    return text.replace(",", "\0").replace(".", ",").replace("\0", thousands)


def fmt_percent(value: float | Decimal | str | None, language: Language, decimals: int = 1) -> str:
    """61.725 -> fr "61,7 %" (U+202F before the sign), nl "61,7%"; None -> "—"."""
    if value is None:
        return NOTHING
    return f"{fmt_number(value, language, decimals)}{NNBSP if language == 'fr' else ''}%"


def fmt_date(value: date, language: Language, *, numeric: bool = False) -> str:
    """In words: "1er janvier 2024", "31 décembre 2024"; "1 januari 2024".
    ``numeric``: "01/01/2024" (fr), "01-01-2024" (nl)."""
    if numeric:
        separator = "/" if language == "fr" else "-"
        return f"{value.day:02d}{separator}{value.month:02d}{separator}{value.year}"
    day = "1er" if language == "fr" and value.day == 1 else str(value.day)
    return f"{day} {month_name(value.month, language)} {value.year}"


def fmt_datetime(value: datetime, language: Language, *, numeric: bool = False) -> str:
    """In words, to the minute: "15 janvier 2025 à 09:30 UTC", "15 januari 2025 om 09:30 UTC".
    ``numeric``, to the second (the times records keep): "12/03/2025 09:05:00 UTC", "12-03-2025 09:05:00 UTC".

    An aware datetime is shown in UTC, so the text is the same on every machine; a naive one
    is shown as it is, without a zone.
    """
    zone = ""
    if value.tzinfo is not None:
        value, zone = value.astimezone(UTC), " UTC"
    day = fmt_date(value.date(), language, numeric=numeric)
    if numeric:
        return f"{day} {value:%H:%M:%S}{zone}"
    return f"{day}{' à ' if language == 'fr' else ' om '}{value:%H:%M}{zone}"
