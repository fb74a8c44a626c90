"""The plan as data: the structure the seeds README gives, and mappings that can match events."""

from __future__ import annotations

import re
from typing import get_args

from passerelle_contracts import EVENT_MODELS

from services.actions.domain import IndicatorMapping, check_mappings
from services.actions.handlers.plan import read_seed

PLAN, INDICATORS = read_seed()

# From ../shared/seeds/README.md: chantier -> (axis, first action, last action)
CHANTIERS = {
    1: (1, 1, 5),
    2: (1, 6, 10),
    3: (1, 11, 15),
    4: (2, 16, 19),
    5: (2, 20, 25),
    6: (2, 26, 28),
    7: (3, 29, 30),
    8: (3, 31, 32),
    9: (3, 33, 34),
    10: (3, 35, 36),
    11: (3, 37, 37),
    12: (4, 38, 42),
    13: (4, 43, 48),
    14: (4, 49, 52),
    15: (4, 53, 54),
    16: (4, 55, 62),
    17: (4, 63, 66),
}


def test_the_plan_has_4_axes_17_chantiers_and_66_numbered_actions() -> None:
    assert [a["number"] for a in PLAN["axes"]] == [1, 2, 3, 4]
    assert [c["number"] for c in PLAN["chantiers"]] == list(range(1, 18))
    assert sorted(a["number"] for a in PLAN["actions"]) == list(range(1, 67))


def test_each_action_sits_in_its_chantier_and_axis() -> None:
    axis_of = {c["number"]: c["axis"] for c in PLAN["chantiers"]}
    for action in PLAN["actions"]:
        axis, first, last = CHANTIERS[action["chantier"]]
        assert first <= action["number"] <= last, action["number"]
        assert axis_of[action["chantier"]] == axis


def test_every_lead_and_partner_is_a_known_organisation() -> None:
    codes = {o["code"] for o in PLAN["organisations"]}
    for action in PLAN["actions"]:
        assert action["lead"] in codes
        assert set(action["partners"]) <= codes


TITLED = [*PLAN["axes"], *PLAN["chantiers"], *PLAN["actions"]]


def test_every_axis_chantier_and_action_has_a_dutch_title_of_its_own() -> None:
    assert len(TITLED) == 4 + 17 + 66
    untranslated = [t["title_fr"] for t in TITLED if not t["title_nl"].strip() or t["title_nl"] == t["title_fr"]]
    assert untranslated == []


def test_the_dutch_titles_are_marked_as_a_working_translation_awaiting_review() -> None:
    assert PLAN["translations"] == {
        "nl": {"status": "working translation, awaiting review by a native speaker", "reviewed_by": None}
    }


def test_the_dutch_titles_use_the_dutch_names_the_service_s_dutch_texts_use() -> None:
    # passerelle_contracts.i18n and the Dutch e-mails: OCR for EPN, OCMW for CPAS, ESF for FSE …
    french = re.compile(r"\b(EPN|CPAS|FSE|OIP|ETP|GT|asbl)\b|Printemps Numérique")
    assert [t["title_nl"] for t in TITLED if french.search(t["title_nl"])] == []
    [action_1] = [a for a in PLAN["actions"] if a["number"] == 1]
    assert "(Digitale Lente)" in action_1["title_nl"], "the Printemps Numérique's Dutch name"


def test_every_mapping_names_a_known_indicator_and_fields_of_its_event() -> None:
    indicators = {i["code"] for i in INDICATORS["indicators"]}
    models = {t: m for (t, _), m in EVENT_MODELS.items()}
    for mapping in INDICATORS["mappings"]:
        assert mapping["indicator"] in indicators
        fields = models[mapping["event_type"]].model_fields
        assert set(mapping["conditions"]) <= set(fields)
        field, _, key = mapping["amount"].partition(".")
        assert mapping["amount"] == "count" or field in fields
        if key:  # a path into a mapping field: the key is one of its keys' values (devices.tablet)
            assert key in get_args(get_args(fields[field].annotation)[0])
        assert mapping.get("order") is None or mapping["order"] in fields
    check_mappings(
        [
            IndicatorMapping(
                m["event_type"], m["conditions"], m["indicator"], m["amount"], m.get("mode", "add"), m.get("order")
            )
            for m in INDICATORS["mappings"]
        ],
        retired={i["code"] for i in INDICATORS["indicators"] if i.get("retired")},
    )


def test_action_11_follows_the_number_of_labelled_epns_by_the_register_s_order_and_no_longer_counts_labels() -> None:
    a11 = [m for m in INDICATORS["mappings"] if m["indicator"] == "a11-epn-labelled"]
    assert a11 == [
        {
            "event_type": "EpnLabelStatusChanged",
            "conditions": {},
            "indicator": "a11-epn-labelled",
            "mode": "set",
            "amount": "labelled_epns",
            "order": "register_version",
        }
    ]
    assert not [m for m in INDICATORS["mappings"] if m["event_type"] == "EpnLabelled"]


def test_pupils_associations_feed_action_46() -> None:
    by_code = {i["code"]: i for i in INDICATORS["indicators"]}
    targets = [
        by_code[m["indicator"]]["action"]
        for m in INDICATORS["mappings"]
        if "pupils-association" in m["conditions"].get("recipient_kind", [])
    ]
    assert targets == [46]


def test_action_36_follows_the_cadastre_coverage_per_year_and_no_longer_counts_grants() -> None:
    by_code = {i["code"]: i for i in INDICATORS["indicators"]}
    a36 = [m for m in INDICATORS["mappings"] if by_code[m["indicator"]]["action"] == 36]
    assert a36 == [
        {
            "event_type": "CadastreCoverageChanged",
            "conditions": {},
            "indicator": "a36-epn-cadastre-complete",
            "mode": "set",
            "amount": "complete_epns",
            "order": "coverage_version",
        }
    ]
    assert by_code["a36-epn-cadastre-complete"]["period"] == "yearly", "a figure per year, ordered per year"
    assert not [m for m in INDICATORS["mappings"] if "epn-register" in m["conditions"].get("call_kind", [])]


def test_the_grants_stand_in_for_action_36_is_retired_with_its_names_saying_so() -> None:
    [retired] = [i for i in INDICATORS["indicators"] if i.get("retired")]
    assert retired["code"] == "a36-epn-register"
    assert (retired["name_fr"].endswith("(retiré)"), retired["name_nl"].endswith("(stopgezet)")) == (True, True)
    assert "a36-epn-cadastre-complete" in retired["retired"], "says what replaces it"


def test_action_28_counts_each_epn_s_first_return_of_a_quarter_per_year_not_its_corrections() -> None:
    by_code = {i["code"]: i for i in INDICATORS["indicators"]}
    a28 = [m for m in INDICATORS["mappings"] if by_code[m["indicator"]]["action"] == 28]
    assert a28 == [
        {
            "event_type": "ActivityReturnSubmitted",
            "conditions": {"revision": [1]},
            "indicator": "a28-epn-returns",
            "amount": "count",
        }
    ]
    assert by_code["a28-epn-returns"]["period"] == "yearly", "returns received in a year, counted from 0 each year"
