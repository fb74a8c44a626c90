"""French and Dutch labels and formats of the equipment documents."""

from __future__ import annotations

from datetime import UTC, date, datetime
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

from .data import LANGUAGES, Language

# --- labels of codes ----------------------------------------------------------------------------

KIND: dict[Language, dict[str, str]] = {
    "fr": {
        "laptop": "ordinateur portable",
        "desktop": "ordinateur de bureau",
        "tablet": "tablette",
        "chromebook": "Chromebook",
        "screen": "écran",
        "other": "autre",
    },
    "nl": {
        "laptop": "laptop",
        "desktop": "desktop",
        "tablet": "tablet",
        "chromebook": "Chromebook",
        "screen": "scherm",
        "other": "ander",
    },
}
# On a label (read in both languages), the kind in one short word where possible.
KIND_LABEL = {
    "laptop": "Laptop",
    "desktop": "Desktop",
    "tablet": "Tablette / Tablet",
    "chromebook": "Chromebook",
    "screen": "Écran / Scherm",
    "other": "Autre / Andere",
}
MEDIUM_TYPE: dict[Language, dict[str, str]] = {
    "fr": {
        "hdd": "disque dur (HDD)",
        "ssd": "SSD",
        "nvme": "SSD NVMe",
        "emmc": "eMMC",
        "usb": "clé USB",
        "sd": "carte SD",
    },
    "nl": {
        "hdd": "harde schijf (HDD)",
        "ssd": "SSD",
        "nvme": "NVMe-SSD",
        "emmc": "eMMC",
        "usb": "USB-stick",
        "sd": "SD-kaart",
    },
}
METHOD: dict[Language, dict[str, str]] = {
    "fr": {"clear": "effacement (clear)", "purge": "purge", "destroy": "destruction"},
    "nl": {"clear": "wissen (clear)", "purge": "purge", "destroy": "vernietiging"},
}
RESULT: dict[Language, dict[str, str]] = {
    "fr": {"passed": "réussi", "failed": "échoué", "passed_with_warnings": "réussi avec avertissements"},
    "nl": {"passed": "geslaagd", "failed": "mislukt", "passed_with_warnings": "geslaagd met waarschuwingen"},
}
VERIFICATION: dict[Language, dict[str, str]] = {
    "fr": {"full": "complète", "sample": "par échantillonnage", "none": "aucune"},
    "nl": {"full": "volledig", "sample": "steekproef", "none": "geen"},
}
MONTHS: dict[Language, tuple[str, ...]] = {
    "fr": (
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
    "nl": (
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ),
}

TEXT: dict[Language, dict[str, str]] = {
    "fr": {
        "title": "Certificat d'effacement des données",
        "subtitle": "Assainissement des supports de stockage selon NIST SP 800-88 Rev. 1",
        "certificate": "Certificat n°",
        "issued_on": "Émis le",
        "device": "Appareil",
        "device_id": "Identifiant Passerelle",
        "short_code": "Code",
        "kind": "Type",
        "make_model": "Marque et modèle",
        "serial": "Numéro de série",
        "donor": "Donateur",
        "refurbisher": "Reconditionneur",
        "refurbisher_note": "organisation qui a effacé les données",
        "media": "Supports de stockage",
        "medium": "Support",
        "medium_type": "Type",
        "capacity": "Capacité",
        "medium_id": "Identifiant du support",
        "method": "Méthode",
        "tool": "Outil et version",
        "passes": "Passes",
        "verification": "Vérification",
        "operator": "Opérateur",
        "result": "Résultat",
        "started_at": "Début",
        "ended_at": "Fin",
        "warnings": "Avertissements",
        "no_media": "Cet appareil ne contient aucun support de stockage : aucun effacement n'était nécessaire.",
        "all_passed": "Tous les supports de stockage de cet appareil ont été assainis avec succès.",
        "not_all_passed": "Attention : au moins un support de stockage n'a pas été assaini avec succès "
        "(échec ou avertissements). Cet appareil ne peut pas être redistribué en l'état.",
        "statement": "Le présent certificat atteste que les supports de stockage de l'appareil décrit "
        "ci-dessus ont été traités conformément aux lignes directrices NIST SP 800-88 Rev. 1 "
        '(<i lang="en">Guidelines for Media Sanitization</i>), avec la méthode, l\'outil et le résultat '
        "indiqués pour chacun d'eux.",
        "hash_note": "L'empreinte SHA-256 de ce document est enregistrée dans Passerelle, "
        "ce qui permet d'en vérifier l'authenticité.",
        "gb": "Go",
        "page": "Page",
    },
    "nl": {
        "title": "Certificaat van gegevensverwijdering",
        "subtitle": "Sanering van opslagmedia volgens NIST SP 800-88 Rev. 1",
        "certificate": "Certificaat nr.",
        "issued_on": "Uitgereikt op",
        "device": "Toestel",
        "device_id": "Passerelle-ID",
        "short_code": "Code",
        "kind": "Type",
        "make_model": "Merk en model",
        "serial": "Serienummer",
        "donor": "Schenker",
        "refurbisher": "Herconditioneerder",
        "refurbisher_note": "organisatie die de gegevens heeft gewist",
        "media": "Opslagmedia",
        "medium": "Medium",
        "medium_type": "Type",
        "capacity": "Capaciteit",
        "medium_id": "ID van het medium",
        "method": "Methode",
        "tool": "Tool en versie",
        "passes": "Doorgangen",
        "verification": "Verificatie",
        "operator": "Operator",
        "result": "Resultaat",
        "started_at": "Begin",
        "ended_at": "Einde",
        "warnings": "Waarschuwingen",
        "no_media": "Dit toestel bevat geen opslagmedia: er moesten geen gegevens worden gewist.",
        "all_passed": "Alle opslagmedia van dit toestel werden met succes gesaneerd.",
        "not_all_passed": "Let op: minstens één opslagmedium werd niet met succes gesaneerd "
        "(mislukt of met waarschuwingen). Dit toestel mag niet in deze staat worden herverdeeld.",
        "statement": "Dit certificaat bevestigt dat de opslagmedia van het hierboven beschreven toestel "
        "werden behandeld volgens de richtlijnen NIST SP 800-88 Rev. 1 "
        '(<i lang="en">Guidelines for Media Sanitization</i>), met de methode, de tool en het resultaat '
        "die voor elk medium vermeld zijn.",
        "hash_note": "De SHA-256-vingerafdruk van dit document is geregistreerd in Passerelle, "
        "zodat de echtheid ervan kan worden gecontroleerd.",
        "gb": "GB",
        "page": "Pagina",
    },
}


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _dash(text: str) -> str:
    """Escaped, or an em dash when empty."""
    return _e(text) if text.strip() else "—"


def _label(table: dict[Language, dict[str, str]], lang: Language, code: str) -> str:
    return table[lang].get(code, code)


def _check_language(language: str) -> Language:
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    return language  # type: ignore[return-value]


def _fmt_date(day: date, lang: Language) -> str:
    return f"{day.day} {MONTHS[lang][day.month - 1]} {day.year}"


def _fmt_datetime(moment: datetime, lang: Language) -> str:
    """Aware datetimes in UTC (the same text on every machine, as the annual report does)."""
    zone = ""
    if moment.tzinfo is not None:
        moment, zone = moment.astimezone(UTC), " UTC"
    day = f"{moment.day:02d}/{moment.month:02d}/{moment.year}" if lang == "fr" else moment.strftime("%d-%m-%Y")
    return f"{day} {moment:%H:%M:%S}{zone}"


def _fmt_capacity(capacity_gb: int | None, lang: Language) -> str:
    if capacity_gb is None:
        return "—"
    separator = "\u202f" if lang == "fr" else "."
    return f"{capacity_gb:,}".replace(",", separator) + " " + TEXT[lang]["gb"]
