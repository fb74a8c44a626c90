"""The equipment documents' own French and Dutch texts: the certificate's wording and the labels
of sanitisation codes that only documents show. Labels of the contracts' codes (device kinds),
numbers and dates are the shared ones of ``passerelle_contracts.i18n``."""

from __future__ import annotations

from html import escape

from passerelle_contracts.common import Language
from passerelle_contracts.i18n import Labels, fmt_number

# On a label (read in both languages), the kind in one short word where possible.
KIND_LABEL = {
    "laptop": "Laptop",
    "desktop": "Desktop",
    "tablet": "Tablette / Tablet",
    "chromebook": "Chromebook",
    "screen": "Écran / Scherm",
    "other": "Autre / Andere",
}
MEDIUM_TYPE: Labels = {
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
METHOD: Labels = {
    "fr": {"clear": "effacement (clear)", "purge": "purge", "destroy": "destruction"},
    "nl": {"clear": "wissen (clear)", "purge": "purge", "destroy": "vernietiging"},
}
RESULT: Labels = {
    "fr": {"passed": "réussi", "failed": "échoué", "passed_with_warnings": "réussi avec avertissements"},
    "nl": {"passed": "geslaagd", "failed": "mislukt", "passed_with_warnings": "geslaagd met waarschuwingen"},
}
VERIFICATION: Labels = {
    "fr": {"full": "complète", "sample": "par échantillonnage", "none": "aucune"},
    "nl": {"full": "volledig", "sample": "steekproef", "none": "geen"},
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


def _fmt_capacity(capacity_gb: int | None, lang: Language) -> str:
    if capacity_gb is None:
        return "—"
    return f"{fmt_number(capacity_gb, lang)} {TEXT[lang]['gb']}"
