"""French and Dutch labels of the codes the events carry, for whoever shows them to people
(the notifications, the annual report, a partner's own screens). A code missing here is shown
as it is."""

from __future__ import annotations

from typing import Literal

Language = Literal["fr", "nl"]
Labels = dict[Language, dict[str, str]]

STATUS: Labels = {
    "fr": {"not_started": "non commencée", "planned": "planifiée", "in_progress": "en cours", "on_hold": "suspendue",
           "completed": "terminée", "abandoned": "abandonnée"},
    "nl": {"not_started": "niet gestart", "planned": "gepland", "in_progress": "lopend", "on_hold": "opgeschort",
           "completed": "afgerond", "abandoned": "stopgezet"},
}
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
UNIT: Labels = {
    "fr": {"devices": "appareils", "grants": "subventions", "meetings": "réunions", "EPN": "EPN"},
    "nl": {"devices": "toestellen", "grants": "subsidies", "meetings": "vergaderingen", "EPN": "OCR's"},
}
RECIPIENT_KIND: Labels = {
    "fr": {"secondary-school": "école secondaire", "homework-school": "école de devoirs",
           "pupils-association": "association d'aide aux élèves", "retirement-home": "maison de repos", "epn": "EPN",
           "first-line-actor": "acteur de première ligne", "cpas": "CPAS", "non-profit": "association"},
    "nl": {"secondary-school": "secundaire school", "homework-school": "huiswerkschool",
           "pupils-association": "vereniging voor leerlingenbegeleiding", "retirement-home": "rusthuis", "epn": "OCR",
           "first-line-actor": "eerstelijnsactor", "cpas": "OCMW", "non-profit": "vzw"},
}
# The fields named in events' ``changes``.
FIELD: Labels = {
    "fr": {"status": "statut", "traffic_light": "feu tricolore", "status_note": "note de statut", "progress": "avancement",
           "title_fr": "titre (fr)", "title_nl": "titre (nl)", "lead": "pilote", "partners": "partenaires",
           "publics": "publics", "weight": "poids", "planned_on": "date prévue", "reached_on": "date atteinte",
           "comment": "commentaire", "value": "valeur", "name_fr": "nom", "unit": "unité",
           "baseline": "situation de départ", "target": "cible", "period": "période"},
    "nl": {"status": "status", "traffic_light": "verkeerslicht", "status_note": "statusnota", "progress": "voortgang",
           "title_fr": "titel (fr)", "title_nl": "titel (nl)", "lead": "trekker", "partners": "partners",
           "publics": "doelgroepen", "weight": "gewicht", "planned_on": "geplande datum", "reached_on": "bereikt op",
           "comment": "commentaar", "value": "waarde", "name_fr": "naam", "unit": "eenheid", "baseline": "beginsituatie",
           "target": "doel", "period": "periode"},
}


def label(labels: Labels, language: Language, code: str | None) -> str:
    if code is None:
        return "—"
    return labels[language].get(code, code)
