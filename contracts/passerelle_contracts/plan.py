"""The plan's structure: its title, its 4 axes and 17 chantiers, named in French and Dutch.

The events name an action's axis and chantier by number (``ActionRegistered``); partners and the
dashboard show their names from here. The actions service's seed (``services/actions/seed/plan.json``)
holds the same names: a test keeps the two equal. The Dutch names are a working translation awaiting a
native speaker's review (``NL_REVIEWED`` is False until then).
"""

from __future__ import annotations

from .common import Language

NL_REVIEWED = False

TITLE: dict[Language, str] = {
    "fr": "Plan d'appropriation numérique 2021-2024",
    "nl": "Plan voor digitale toe-eigening 2021-2024",
}

AXES: dict[int, dict[Language, str]] = {
    1: {"fr": "Sensibiliser", "nl": "Sensibiliseren"},
    2: {"fr": "Fédérer", "nl": "Samenbrengen"},
    3: {"fr": "Outiller", "nl": "Uitrusten"},
    4: {"fr": "Accompagner", "nl": "Begeleiden"},
}

# chantier -> its axis
CHANTIER_AXIS: dict[int, int] = {
    1: 1,
    2: 1,
    3: 1,
    4: 2,
    5: 2,
    6: 2,
    7: 3,
    8: 3,
    9: 3,
    10: 3,
    11: 3,
    12: 4,
    13: 4,
    14: 4,
    15: 4,
    16: 4,
    17: 4,
}

CHANTIERS: dict[int, dict[Language, str]] = {
    1: {"fr": "Sensibilisation grand public", "nl": "Sensibilisering van het grote publiek"},
    2: {"fr": "Sensibilisation au sein des administrations", "nl": "Sensibilisering binnen de overheidsdiensten"},
    3: {"fr": "Labellisation des EPN", "nl": "Labeling van de OCR's"},
    4: {"fr": "Régulation et recommandations", "nl": "Regelgeving en aanbevelingen"},
    5: {"fr": "Coordination régionale", "nl": "Gewestelijke coördinatie"},
    6: {"fr": "Évaluation", "nl": "Evaluatie"},
    7: {"fr": "Équipement des acteurs de première ligne", "nl": "Uitrusting van de eerstelijnsactoren"},
    8: {"fr": "Partage des outils didactiques", "nl": "Delen van didactische hulpmiddelen"},
    9: {"fr": "Formation continue des animateurs", "nl": "Permanente vorming van de animatoren"},
    10: {"fr": "Mobilisation des financements nécessaires", "nl": "Mobiliseren van de nodige financiering"},
    11: {"fr": "Encadrement de la profession de médiateur", "nl": "Omkadering van het beroep van digitale bemiddelaar"},
    12: {"fr": "Les chercheurs d'emploi", "nl": "Werkzoekenden"},
    13: {"fr": "Les jeunes", "nl": "Jongeren"},
    14: {"fr": "Les seniors", "nl": "Senioren"},
    15: {"fr": "Les personnes en situation de handicap", "nl": "Personen met een handicap"},
    16: {"fr": "Les personnes précarisées", "nl": "Kwetsbare personen"},
    17: {"fr": "Les femmes", "nl": "Vrouwen"},
}


def axis_title(number: int, language: Language) -> str:
    names = AXES.get(number)
    return names[language] if names else str(number)


def chantier_title(number: int, language: Language) -> str:
    names = CHANTIERS.get(number)
    return names[language] if names else str(number)
