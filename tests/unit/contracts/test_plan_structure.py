"""The plan's structure in the contracts (axes and chantiers named in French and Dutch) is the
actions service's seed: partners and the dashboard name them as the plan does."""

from __future__ import annotations

import json
from pathlib import Path

from passerelle_contracts import plan

SEED = json.loads((Path(__file__).resolve().parents[3] / "services/actions/seed/plan.json").read_text("utf-8"))


def test_the_plan_s_title_is_the_seed_s_in_both_languages() -> None:
    assert {"fr": SEED["plan"]["title_fr"], "nl": SEED["plan"]["title_nl"]} == plan.TITLE


def test_the_axes_are_the_seed_s_in_both_languages() -> None:
    assert {a["number"]: {"fr": a["title_fr"], "nl": a["title_nl"]} for a in SEED["axes"]} == plan.AXES


def test_the_chantiers_and_their_axes_are_the_seed_s_in_both_languages() -> None:
    assert {c["number"]: {"fr": c["title_fr"], "nl": c["title_nl"]} for c in SEED["chantiers"]} == plan.CHANTIERS
    assert {c["number"]: c["axis"] for c in SEED["chantiers"]} == plan.CHANTIER_AXIS


def test_every_dutch_name_is_dutch_and_awaits_a_native_speaker_s_review() -> None:
    for names in (*plan.AXES.values(), *plan.CHANTIERS.values()):
        assert names["nl"] and names["nl"] != names["fr"]
    assert plan.NL_REVIEWED is (SEED["translations"]["nl"]["reviewed_by"] is not None)


def test_an_unknown_number_is_shown_as_it_is() -> None:
    assert plan.axis_title(9, "nl") == "9"
    assert plan.chantier_title(3, "nl") == plan.CHANTIERS[3]["nl"]
