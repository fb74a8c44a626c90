"""What the dashboard says, in French and Dutch: one table per page, merged for the templates.

Each page module may add its own table (``register``); a key missing in one language is an error
at import (``check``), so that no Dutch page falls back to a French word unseen. The plan's own
titles (actions, chantiers, axes) are data, in the events and in ``passerelle_contracts.plan``.
"""

from __future__ import annotations

from collections.abc import Mapping

from passerelle_contracts.common import Language

Texts = Mapping[Language, Mapping[str, str]]
LANGUAGES: tuple[Language, ...] = ("fr", "nl")

COMMON: Texts = {
    "fr": {
        "app": "Passerelle — tableau de bord",
        "skip": "Aller au contenu",
        "nav": "Navigation principale",
        "nav_plan": "Plan",
        "nav_equipment": "Équipement",
        "nav_funding": "Financement",
        "nav_feed": "Flux en direct",
        "nav_system": "Système",
        "language": "Langue",
        "signed_in_as": "Connecté : {organisation} ({role})",
        "sign_out": "Se déconnecter",
        "sign_in": "Se connecter",
        "sign_in_title": "Connexion",
        "api_key": "Clé d'API",
        "api_key_help": "La clé que la Coordination vous a remise (psk_…). Elle n'est jamais affichée.",
        "bad_key": "Clé inconnue, révoquée ou expirée.",
        "live_connected": "Mises à jour en direct actives.",
        "live_updated": "Mis à jour à {time}.",
        "live_lost": "Mises à jour interrompues : reconnexion…",
        "live_reload": "Beaucoup de changements : rechargez la page.",
        "none": "Aucun",
        "partner_view": "Vue partenaire : chiffres publics et événements de votre organisation.",
        "total": "Total",
        "filters": "Filtres du flux",
        "topic": "Sujet",
        "event_type": "Type d'événement",
        "organisation": "Organisation",
        "organisations": "Organisations",
        "all": "Tous",
        "apply_filters": "Filtrer",
        "feed_caption": "Les événements, du plus récent au plus ancien ; les nouveaux s'ajoutent en haut.",
        "when": "Quand",
        "subject": "Objet",
        "flow": "Parcours",
        "follow": "Suivre",
        "follow_flow": "Suivre le parcours de",
        "older": "Événements plus anciens",
        "trail_title": "Parcours d'un flux entre les services",
        "trail_intro": "Tous les événements de ce flux, dans l'ordre où ils se sont produits. Identifiant de corrélation :",
        "actor": "Acteur",
        "caused_by": "Causé par",
        "event_id": "Identifiant",
        "data": "Données",
    },
    "nl": {
        "app": "Passerelle — dashboard",
        "skip": "Naar de inhoud",
        "nav": "Hoofdnavigatie",
        "nav_plan": "Plan",
        "nav_equipment": "Uitrusting",
        "nav_funding": "Financiering",
        "nav_feed": "Live stroom",
        "nav_system": "Systeem",
        "language": "Taal",
        "signed_in_as": "Aangemeld: {organisation} ({role})",
        "sign_out": "Afmelden",
        "sign_in": "Aanmelden",
        "sign_in_title": "Aanmelden",
        "api_key": "API-sleutel",
        "api_key_help": "De sleutel die de Coördinatie u gaf (psk_…). Hij wordt nooit getoond.",
        "bad_key": "Onbekende, ingetrokken of verlopen sleutel.",
        "live_connected": "Live-updates actief.",
        "live_updated": "Bijgewerkt om {time}.",
        "live_lost": "Updates onderbroken: opnieuw verbinden…",
        "live_reload": "Veel wijzigingen: herlaad de pagina.",
        "none": "Geen",
        "partner_view": "Partnerweergave: openbare cijfers en de gebeurtenissen van uw organisatie.",
        "total": "Totaal",
        "filters": "Filters van de stroom",
        "topic": "Onderwerp",
        "event_type": "Soort gebeurtenis",
        "organisation": "Organisatie",
        "organisations": "Organisaties",
        "all": "Alle",
        "apply_filters": "Filteren",
        "feed_caption": "De gebeurtenissen, de recentste eerst; nieuwe komen bovenaan.",
        "when": "Wanneer",
        "subject": "Voorwerp",
        "flow": "Verloop",
        "follow": "Volgen",
        "follow_flow": "Het verloop volgen van",
        "older": "Oudere gebeurtenissen",
        "trail_title": "Verloop van een stroom over de diensten",
        "trail_intro": "Alle gebeurtenissen van deze stroom, in de volgorde waarin ze plaatsvonden. Correlatie-id:",
        "actor": "Actor",
        "caused_by": "Veroorzaakt door",
        "event_id": "Id",
        "data": "Gegevens",
    },
}

_TABLES: list[Texts] = [COMMON]


def check(texts: Texts) -> Texts:
    """Both languages, the same keys, no empty text."""
    keys = {language: set(texts[language]) for language in LANGUAGES}
    if keys["fr"] != keys["nl"]:
        raise ValueError(f"texts differ between fr and nl: {sorted(keys['fr'] ^ keys['nl'])}")
    empty = [key for language in LANGUAGES for key, value in texts[language].items() if not value.strip()]
    if empty:
        raise ValueError(f"empty texts: {empty}")
    return texts


def register(texts: Texts) -> Texts:
    """Add a page's table (checked); a key already defined elsewhere is an error."""
    check(texts)
    clash = set(texts["fr"]) & set(all_texts("fr"))
    if clash:
        raise ValueError(f"texts defined twice: {sorted(clash)}")
    _TABLES.append(texts)
    return texts


def all_texts(language: Language) -> dict[str, str]:
    out: dict[str, str] = {}
    for table in _TABLES:
        out.update(table[language])
    return out


check(COMMON)
