"""The annual report's own French and Dutch texts (``report.html``). Labels of codes, numbers
and dates are the shared ones of ``passerelle_contracts.i18n``."""

from __future__ import annotations

from passerelle_contracts.common import Language
from passerelle_contracts.i18n import Labels

MILESTONE_STATE: Labels = {
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
        "target_check": "Suivi de la cible",
        "behind": "En retard sur la cible",
        "on_target": "Conforme à la cible",
        "expected": "attendu\u00a0:",
        "behind_list": "Indicateurs en retard sur la cible",
        "expected_at": "Attendu fin",
        "value": "Valeur",
        "none_behind": "Aucun indicateur n'est en retard sur la cible.",
        "not_judged": "Le rapport est arrêté avant la fin de l'année : les cibles ne sont pas encore évaluées.",
        "target_rule_title": "Suivi des cibles",
        "target_rule": (
            "Un indicateur est signalé «\u00a0En retard sur la cible\u00a0» quand sa valeur n'atteint pas ce qui était "
            "attendu à la fin de l'année du rapport. Un indicateur annuel (un compte qui repart de zéro chaque "
            "année, comme les réunions du Groupe de travail) doit atteindre sa cible dans l'année : la valeur de "
            "l'année est comparée à la cible. Un indicateur sur une période de plusieurs années (par exemple "
            "2021-2024) doit progresser de sa référence vers sa cible de façon régulière, année après année : à la "
            "fin de l'année du rapport, on attend la référence augmentée de la part des années de la période "
            "écoulées de l'écart jusqu'à la cible (la cible entière la dernière année de la période et après). "
            "Une cible inférieure à la référence est une baisse à obtenir : l'indicateur est alors en retard quand "
            "sa valeur dépasse ce qui était attendu. Ne sont pas évalués (—) : un indicateur sans cible, sans "
            "période lisible ou dont la période n'a pas commencé, et tout rapport arrêté avant le 31 décembre."
        ),
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
        "target_check": "Opvolging van het doel",
        "behind": "Achter op het doel",
        "on_target": "In lijn met het doel",
        "expected": "verwacht:",
        "behind_list": "Indicatoren achter op het doel",
        "expected_at": "Verwacht eind",
        "value": "Waarde",
        "none_behind": "Geen enkele indicator staat achter op het doel.",
        "not_judged": "Het verslag is vóór het einde van het jaar afgesloten: de doelen worden nog niet beoordeeld.",
        "target_rule_title": "Opvolging van de doelen",
        "target_rule": (
            "Een indicator wordt gemarkeerd als „Achter op het doel” wanneer zijn waarde niet bereikt wat aan het "
            "einde van het verslagjaar verwacht werd. Een jaarlijkse indicator (een telling die elk jaar bij nul "
            "begint, zoals de vergaderingen van de Werkgroep) moet zijn doel binnen het jaar halen: de waarde van "
            "het jaar wordt met het doel vergeleken. Een indicator over een periode van meerdere jaren (bijvoorbeeld "
            "2021-2024) moet gelijkmatig, jaar na jaar, van zijn referentiewaarde naar zijn doel gaan: aan het einde "
            "van het verslagjaar wordt de referentiewaarde verwacht, vermeerderd met het aandeel verstreken jaren "
            "van de periode van het verschil tot het doel (het volledige doel in het laatste jaar van de periode en "
            "daarna). Een doel onder de referentiewaarde is een daling die bereikt moet worden: de indicator staat "
            "dan achter wanneer zijn waarde hoger is dan verwacht. Niet beoordeeld (—): een indicator zonder doel, "
            "zonder leesbare periode of waarvan de periode nog niet begonnen is, en elk verslag dat vóór "
            "31 december is afgesloten."
        ),
    },
}
