from __future__ import annotations

import json
from pathlib import Path

import pytest
from passerelle_contracts import Envelope
from passerelle_contracts.common import Language
from passerelle_contracts.i18n import fmt_number

from services.notifications.templates import RENDERERS, render

EXAMPLES = Path(__file__).resolve().parents[3] / "contracts" / "examples"


def example(event_type: str) -> Envelope:
    return Envelope.model_validate_json((EXAMPLES / f"{event_type}.v1.json").read_text("utf-8"))


def test_an_indicator_change_is_told_in_french_with_old_and_new_values() -> None:
    message = render(example("IndicatorMeasured"), "fr")
    assert (
        message.subject
        == "[Passerelle] Action 46 : « Appareils reconditionnés livrés aux associations d'élèves » passe de 100 à 125"
    )
    assert "est passé de 100 à 125 appareils." in message.body
    assert message.body.startswith("Bonjour,")


def test_an_indicator_change_is_told_in_dutch() -> None:
    message = render(example("IndicatorMeasured"), "nl")
    assert "Actie 46" in message.subject
    assert "is gewijzigd van 100 naar 125 toestellen." in message.body
    assert "Bonjour" not in message.body


def test_a_status_change_names_both_statuses_in_the_reader_language() -> None:
    fr = render(example("ActionStatusChanged"), "fr").body
    nl = render(example("ActionStatusChanged"), "nl").body
    assert "de « planifiée » à « en cours »" in fr
    assert "van „gepland” naar „lopend”" in nl


@pytest.mark.parametrize("event_type", sorted(RENDERERS))
@pytest.mark.parametrize("language", ["fr", "nl"])
def test_every_subscribable_event_renders_in_both_languages(event_type: str, language: Language) -> None:
    message = render(example(event_type), language)
    assert message.subject.startswith("[Passerelle] ")
    assert "{" not in message.body


def test_numbers_follow_each_language() -> None:
    # The e-mails format numbers with the shared ``passerelle_contracts.i18n``.
    assert fmt_number(15000, "fr") == "15\u202f000"
    assert fmt_number(15000, "nl") == "15.000"
    assert fmt_number(12.5, "fr") == "12,5"
    assert fmt_number(None, "nl") == "—"


def test_examples_exist_for_the_templates() -> None:
    for event_type in RENDERERS:
        assert json.loads((EXAMPLES / f"{event_type}.v1.json").read_text("utf-8"))["event_type"] == event_type


def test_a_returned_report_says_what_changed_field_by_field() -> None:
    fr = render(example("ReportReturned"), "fr")
    nl = render(example("ReportReturned"), "nl")
    assert fr.subject == "[Passerelle] Action 38 : Rapport renvoyé"
    assert "– statut : soumis → renvoyé" in fr.body
    assert "– status: ingediend → teruggestuurd" in nl.body
    assert "– commentaire : — → Merci d'ajouter le nombre de participants." in fr.body
    assert "– commentaar: — → Merci d'ajouter le nombre de participants." in nl.body


def test_an_overdue_milestone_names_its_delay() -> None:
    assert "n'est pas atteint (3 jours de retard au 2024-10-03)" in render(example("MilestoneOverdue"), "fr").body
    assert "(3 dagen achterstand op 2024-10-03)" in render(example("MilestoneOverdue"), "nl").body


def test_a_donor_hears_of_its_batch_in_counts() -> None:
    fr = render(example("BatchMilestoneReached"), "fr")
    assert fr.subject == "[Passerelle] Votre lot PAR-2024-01 : effacé"
    assert "échecs d'effacement : 4" in fr.body
    assert "mislukte wissingen: 4" in render(example("BatchMilestoneReached"), "nl").body


def test_a_report_reminder_says_when_it_is_due_and_an_overdue_one_that_the_coordination_knows() -> None:
    soon = render(example("ReportingReminder"), "fr")
    late = example("ReportingReminder").model_copy(
        update={"data": {**example("ReportingReminder").data, "stage": "overdue"}}
    )

    assert soon.subject == "[Passerelle] Rapport final à remettre dans 14 jours"
    assert "est dû le 30 juin 2027" in soon.body
    assert render(late, "fr").subject == "[Passerelle] Rapport final en retard"
    assert "la Coordination en est informée" in render(late, "fr").body
    assert "Coördinatie is op de hoogte" in render(late, "nl").body


def test_a_call_closing_and_a_late_activity_return_are_told_in_both_languages() -> None:
    assert (
        render(example("CallClosingSoon"), "fr").subject == "[Passerelle] Appel AAP-SENIORS-2026 : clôture dans 7 jours"
    )
    assert (
        render(example("CallClosingSoon"), "nl").subject == "[Passerelle] Oproep AAP-SENIORS-2026: sluit over 7 dagen"
    )
    assert (
        render(example("ActivityReturnReminder"), "fr").subject
        == "[Passerelle] Relevé d'activité T1 2026 de epn-ixelles en retard"
    )
    assert "kwartaal K1 2026" in render(example("ActivityReturnReminder"), "nl").body
