"""The texts partners read, from the Jinja2 templates in services/notifications/texts: every event
type in French and Dutch, what changed, the link to the dashboard, digests, reminders, footers."""

from __future__ import annotations

import itertools
import random
import re
import shutil
import typing
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jinja2 import meta
from passerelle_contracts import Envelope, common, funding_v1
from passerelle_contracts.common import LANGUAGES, Language

from services.notifications.formatting import TABLES
from services.notifications.rendering import (
    EVENT_BLOCKS,
    EXAMPLES,
    SUBSCRIBABLE,
    TEXTS,
    THINGS,
    DigestItem,
    NoTemplate,
    digest_groups,
    environment,
    main,
    render,
    render_bounce_alert,
    render_digest,
    render_footer,
    render_meeting_reminder,
)

URL = "https://dashboard.passerelle.example"
NNBSP, NBSP = "\u202f", "\u00a0"
SPECIAL = ("_digest", "_meeting_reminder", "_bounce_alert")  # templates with the event blocks, besides event types


def example(event_type: str, **data: Any) -> Envelope:
    """The contract's example of ``event_type``, its data changed by ``data``."""
    envelope = Envelope.model_validate_json((EXAMPLES / f"{event_type}.v1.json").read_text("utf-8"))
    return envelope.model_copy(update={"data": {**envelope.data, **data}}) if data else envelope


def types_without_templates(texts: Path) -> list[str]:
    """ "Type (language)" for every subscribable type that has no template file in a language."""
    return [f"{t} ({lang})" for t in SUBSCRIBABLE for lang in LANGUAGES if not (texts / lang / f"{t}.j2").is_file()]


# --- every type, both languages -------------------------------------------------------------------


def test_every_event_type_a_partner_can_subscribe_to_has_a_french_and_a_dutch_template() -> None:
    assert types_without_templates(TEXTS) == []


def test_a_missing_template_file_is_named_by_that_check(tmp_path: Path) -> None:
    shutil.copytree(TEXTS, tmp_path / "texts")
    (tmp_path / "texts" / "nl" / "MeetingCancelled.j2").unlink()

    assert types_without_templates(tmp_path / "texts") == ["MeetingCancelled (nl)"]


def test_partners_can_subscribe_to_every_event_type_of_the_contracts_but_the_superseded_epn_labelled() -> None:
    assert "EpnLabelled" not in SUBSCRIBABLE
    assert {"MeetingScheduled", "MeetingRescheduled", "MeetingCancelled", "EpnLabelStatusChanged"} <= set(SUBSCRIBABLE)
    assert len(SUBSCRIBABLE) == len(set(SUBSCRIBABLE))


def test_every_subscribable_type_has_a_dashboard_page_and_a_contract_example() -> None:
    assert set(THINGS) == set(SUBSCRIBABLE)
    assert [t for t in SUBSCRIBABLE if not (EXAMPLES / f"{t}.v1.json").is_file()] == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_template_defines_the_blocks_a_text_needs(language: Language) -> None:
    env = environment(language)
    lacking = {
        name: missing
        for name in (*SUBSCRIBABLE, *SPECIAL)
        if (missing := set(EVENT_BLOCKS) - set(env.get_template(f"{name}.j2").blocks))
    }
    assert lacking == {}


def test_every_label_table_a_template_names_exists() -> None:
    # Table names are the only quoted upper-case words of the templates: label("STATUS").
    named = {
        table for path in TEXTS.glob("*/*.j2") for table in re.findall(r'"([A-Z][A-Z_]+)"', path.read_text("utf-8"))
    }
    assert named, "the templates name label tables"
    assert named - set(TABLES) == set()


@pytest.mark.parametrize(
    ("table", "codes"),
    [
        ("PUBLIC", common.Public),
        ("PHYSICAL_STATE", common.PhysicalState),
        ("SANITISATION_STATE", common.SanitisationState),
        ("REQUEST_STATUS", common.ReviewDecision),
        ("DONOR_KIND", common.DonorKind),
        ("BENEFICIARY_KIND", common.BeneficiaryKind),
        ("CALL_KIND", common.CallKind),
        ("CALL_MANAGEMENT", common.CallManagement),
        ("COST_OPTION", common.CostOption),
        ("REMINDER_STAGE", common.ReminderStage),
        ("APPLICATION_DECISION", common.ApplicationDecision),
        ("PROGRESS_MODE", common.ProgressMode),
        ("DEVICE_KIND_PLURAL", common.DeviceKind),
        ("MEETING_KIND_THE", common.MeetingKind),
        ("DUTY_KIND", funding_v1.DutyKind),
        ("RECLAIM_REASON", typing.get_type_hints(funding_v1.ReclaimIssued)["reason"]),
        ("AMENDMENT_KIND", typing.get_type_hints(funding_v1.GrantAmended)["kind"]),
    ],
)
def test_the_labels_the_texts_add_know_every_code_of_the_contracts_in_both_languages(table: str, codes: Any) -> None:
    for language in LANGUAGES:
        assert set(typing.get_args(codes)) - set(TABLES[table][language]) == set(), (table, language)


@pytest.mark.parametrize("event_type", SUBSCRIBABLE)
def test_every_example_renders_in_both_languages_with_every_part(event_type: str) -> None:
    fr, nl = (render(example(event_type), language, URL) for language in LANGUAGES)

    for text in (fr, nl):
        assert all((text.subject, text.body, text.line, text.link, text.group, text.group_title))
        assert text.subject.startswith("[Passerelle] ")
        assert "\n" not in text.subject + text.line + text.group_title
        assert text.link.startswith(URL + "/") and text.link in text.body
        assert text.body.endswith(
            "— Passerelle, pour la Coordination Inclusion Numérique de la Région de Bruxelles-Capitale\n"
        ) or text.body.endswith(
            "— Passerelle, voor de Coördinatie Digitale Inclusie van het Brussels Hoofdstedelijk Gewest\n"
        )
        assert not re.search(r"\{[{%#]|[}%#]\}|</?[a-z]+>|\bNone\b|&amp;", text.body), text.body
        assert "\n\n\n" not in text.body
    assert fr.body.startswith("Bonjour,\n\n") and nl.body.startswith("Goeddag,\n\n")
    assert (fr.link, fr.group) == (nl.link, nl.group)
    assert fr.subject != nl.subject and fr.line != nl.line and fr.body != nl.body


def test_an_event_type_without_texts_is_a_lookup_error_that_names_it() -> None:
    with pytest.raises(LookupError, match="EpnLabelled"):
        render(example("EpnLabelled"), "fr", URL)
    with pytest.raises(NoTemplate, match="UnknownThing"):
        render(example("GrantAwarded").model_copy(update={"event_type": "UnknownThing"}), "nl", URL)


# --- what the texts say -----------------------------------------------------------------------------


def test_an_indicator_change_is_told_with_its_old_and_new_values_in_each_language() -> None:
    fr, nl = render(example("IndicatorMeasured"), "fr", URL), render(example("IndicatorMeasured"), "nl", URL)

    assert fr.subject == (
        "[Passerelle] Action 46 : « Appareils reconditionnés livrés aux associations d'élèves » passe de 100 à 125"
    )
    assert "est passé de 100 à 125 appareils." in fr.body
    assert "Date de la mesure : 13 mars 2024." in fr.body
    assert nl.subject.startswith("[Passerelle] Actie 46: „Gereviseerde toestellen")
    assert "is gewijzigd van 100 naar 125 toestellen." in nl.body
    assert (fr.link, fr.group, fr.group_title) == (f"{URL}/actions/46", "action:46", "Action 46")


def test_numbers_and_amounts_are_written_as_each_language_writes_them() -> None:
    big = example("IndicatorMeasured", previous_value=14999.5, value=15000, target=20000)

    assert render(example("GrantAwarded"), "fr", URL).subject.endswith(f"15{NNBSP}000{NBSP}€ accordée à epn-ixelles")
    assert render(example("GrantAwarded"), "nl", URL).subject.endswith(f"15.000{NBSP}€ toegekend aan epn-ixelles")
    assert render(big, "fr", URL).subject.endswith(f"passe de 14{NNBSP}999,5 à 15{NNBSP}000")
    assert render(big, "nl", URL).subject.endswith("gaat van 14.999,5 naar 15.000")
    assert f"(atteinte à 75{NNBSP}%)" in render(big, "fr", URL).body
    assert "(bereikt voor 75%)" in render(big, "nl", URL).body
    assert f"9{NNBSP}200,50{NBSP}€" in render(example("PaymentMade", amount_eur="9200.50"), "fr", URL).subject


def test_a_status_change_names_both_statuses_by_their_labels() -> None:
    assert "de « planifiée » à « en cours »" in render(example("ActionStatusChanged"), "fr", URL).body
    assert "van „gepland” naar „lopend”" in render(example("ActionStatusChanged"), "nl", URL).body


def test_a_returned_report_says_what_changed_field_by_field_and_shows_the_comment() -> None:
    fr, nl = render(example("ReportReturned"), "fr", URL), render(example("ReportReturned"), "nl", URL)

    assert fr.subject == "[Passerelle] Action 38 : rapport 2024 renvoyé pour être complété"
    assert "– statut : soumis → renvoyé" in fr.body
    assert "– status: ingediend → teruggestuurd" in nl.body
    assert "– commentaire : — → Merci d'ajouter le nombre de participants." in fr.body
    assert "– commentaar: — → Merci d'ajouter le nombre de participants." in nl.body
    assert fr.link == f"{URL}/actions/38/reports/6e5d4c3b-2a19-4f8e-b7d6-c5b4a3928170" and fr.group == "action:38"


@pytest.mark.parametrize(
    ("event_type", "data", "french", "dutch"),
    [
        ("EpnDetailsChanged", {}, "– heures d'ouverture par semaine : 24 → 12", "– openingsuren per week: 24 → 12"),
        (
            "EpnDetailsChanged",
            {"changes": [{"field": "accessible", "old": False, "new": True}]},
            "– accessible aux PMR : non → oui",
            "– toegankelijk voor PBM: nee → ja",
        ),
        (
            "EpnDetailsChanged",
            {"changes": [{"field": "publics", "old": "seniors", "new": "seniors,job-seekers"}]},
            "– publics : seniors → seniors, chercheurs d'emploi",
            "– doelgroepen: senioren → senioren, werkzoekenden",
        ),
        (
            "FundingLineChanged",
            {},
            f"– montant payé : 21{NNBSP}000{NBSP}€ → 42{NNBSP}000{NBSP}€",
            f"– betaald bedrag: 21.000{NBSP}€ → 42.000{NBSP}€",
        ),
        (
            "GrantAmended",
            {},
            "– date de fin : 31 mai 2027 → 31 août 2027",
            "– einddatum: 31 mei 2027 → 31 augustus 2027",
        ),
        (
            "GrantAmended",
            {"kind": "budget-revision", "changes": [{"field": "tranche_2_eur", "old": "10000", "new": "8000.5"}]},
            f"– tranche 2 : 10{NNBSP}000{NBSP}€ → 8{NNBSP}000,50{NBSP}€",
            f"– schijf 2: 10.000{NBSP}€ → 8.000,50{NBSP}€",
        ),
        (
            "RequestReviewed",
            {},
            "– statut : introduite → acceptée en partie",
            "– status: ingediend → gedeeltelijk aanvaard",
        ),
        ("DeviceConditionChanged", {}, "– état : reçu → reconditionné", "– toestand: ontvangen → gereviseerd"),
        ("ActionProgressUpdated", {}, f"avancement 25{NNBSP}% → 50{NNBSP}%", "voortgang 25% → 50%"),
        (
            "MeetingRescheduled",
            {},
            "– début : 12 mars 2024 à 09:30 → 14 mars 2024 à 09:30",
            "– begin: 12 maart 2024 om 09:30 → 14 maart 2024 om 09:30",
        ),
    ],
)
def test_changed_values_read_as_labels_amounts_dates_and_numbers(
    event_type: str, data: dict[str, Any], french: str, dutch: str
) -> None:
    envelope = example(event_type, **data)
    fr, nl = render(envelope, "fr", URL), render(envelope, "nl", URL)
    assert french in fr.body + fr.subject
    assert dutch in nl.body + nl.subject


def test_a_line_break_in_data_never_breaks_a_subject_or_a_line_but_keeps_french_spaces() -> None:
    returned = example("ReportReturned", period="2024\r\nS1", comment="Merci.\nAjoutez les\tcomptages.")
    registered = example("ActionRegistered", title_fr="Former\nles seniors", title_nl="Senioren\r\nopleiden")

    assert render(returned, "fr", URL).subject == "[Passerelle] Action 38 : rapport 2024 S1 renvoyé pour être complété"
    assert render(returned, "fr", URL).line == "Action 38 : rapport 2024 S1 renvoyé (« Merci. Ajoutez les comptages. »)"
    assert render(registered, "nl", URL).subject == "[Passerelle] Actie 46 opgevolgd in Passerelle: Senioren opleiden"
    assert render(registered, "fr", URL).group_title == "Action 46 — Former les seniors"
    assert NNBSP in render(example("ActivityReturnSubmitted"), "fr", URL).subject  # "1 840 visites"


def test_a_long_title_is_cut_at_a_word_in_a_subject_but_whole_in_the_body() -> None:
    title = "Former les seniors aux démarches administratives en ligne dans toutes les communes de la Région"
    text = render(example("ActionRegistered", title_fr=title), "fr", URL)

    assert (
        text.subject
        == "[Passerelle] Action 46 suivie dans Passerelle : Former les seniors aux démarches administratives en ligne…"
    )
    assert f"« {title} »" in text.body


def test_the_dutch_text_falls_back_on_the_french_title_when_there_is_no_dutch_one() -> None:
    assert (
        "„Réunir le Groupe de Travail au moins 4 fois par an”" in render(example("ActionStatusChanged"), "nl", URL).body
    )


def test_a_convocation_gives_the_brussels_time_the_place_the_agenda_with_actions_and_the_guests() -> None:
    fr, nl = render(example("MeetingScheduled"), "fr", URL), render(example("MeetingScheduled"), "nl", URL)

    assert fr.subject == "[Passerelle] Convocation : Groupe de travail le mardi 12 mars 2024 à 09:30"
    assert "Quand : mardi 12 mars 2024, de 09:30 à 11:30 (heure de Bruxelles)" in fr.body
    assert "Où : Rue Royale 2-4, 1000 Bruxelles, salle 3" in fr.body
    assert "  1. Action 46 : Déclassement du matériel régional\n  2. Divers\n" in fr.body
    assert "Invités en plus des membres : bruxelles-formation." in fr.body
    assert nl.subject == "[Passerelle] Uitnodiging: Werkgroep op dinsdag 12 maart 2024 om 09:30"
    assert "Wanneer: dinsdag 12 maart 2024, van 09:30 tot 11:30 (Brusselse tijd)" in nl.body
    assert "  1. Actie 46: Déclassement du matériel régional" in nl.body
    assert (fr.group, fr.link) == (
        "meeting:b1a2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
        f"{URL}/meetings/b1a2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
    )


def test_summer_time_is_brussels_time_too_and_an_online_meeting_says_the_link_comes_from_the_coordination() -> None:
    summer = example(
        "MeetingScheduled", kind="copil", starts_at="2024-06-11T07:00:00Z", ends_at=None, location="online", invited=[]
    )
    fr, nl = render(summer, "fr", URL), render(summer, "nl", URL)

    assert "Quand : mardi 11 juin 2024 à 09:00 (heure de Bruxelles)" in fr.body
    assert "Où : en ligne (la Coordination envoie le lien)" in fr.body
    assert "Invités" not in fr.body
    assert "uitgenodigd op de vergadering van het Stuurcomité (COPIL)" in nl.body


def test_a_rescheduled_meeting_says_what_moved_and_a_cancelled_one_why() -> None:
    assert (
        render(example("MeetingRescheduled"), "fr", URL).subject
        == "[Passerelle] Groupe de travail déplacé au jeudi 14 mars 2024 à 09:30"
    )
    moved_room = example("MeetingRescheduled", changes=[{"field": "location", "old": "Salle 1", "new": "Salle 3"}])
    assert (
        render(moved_room, "nl", URL).subject
        == "[Passerelle] Werkgroep van 14 maart 2024: uitnodiging gewijzigd (plaats)"
    )
    cancelled = render(example("MeetingCancelled"), "fr", URL)
    assert "prévue le jeudi 14 mars 2024 à 09:30 (heure de Bruxelles) est annulée" in cancelled.body
    assert "Motif : Quorum non atteint" in cancelled.body


def test_a_held_meeting_names_the_organisations_present_and_absent_and_gives_the_minutes() -> None:
    fr = render(example("MeetingHeld"), "fr", URL)

    assert "Présentes : coordination-inclusion-numerique, easy-brussels, caban et actiris." in fr.body
    assert "Absentes : bruxelles-formation." in fr.body
    assert "Compte rendu :\nLe Groupe de travail a validé le calendrier de déclassement 2024." in fr.body
    assert fr.line == "Groupe de travail du 12 mars 2024 tenu : 4 organisations présentes, 1 absente"


def test_a_report_reminder_says_when_it_is_due_and_an_overdue_one_that_the_coordination_knows() -> None:
    soon, late = example("ReportingReminder"), example("ReportingReminder", stage="overdue")

    assert render(soon, "fr", URL).subject == (
        "[Passerelle] Rapport final à remettre dans 14 jours : subvention 9a8b7c6d (asbl-seniors-connectes)"
    )
    assert "est dû le 30 juin 2027" in render(soon, "fr", URL).body
    assert render(late, "fr", URL).subject.startswith("[Passerelle] Rapport final en retard")
    assert "la Coordination en est informée" in render(late, "fr", URL).body
    assert "de Coördinatie is op de hoogte" in render(late, "nl", URL).body


def test_a_call_closing_and_a_late_activity_return_are_told_in_both_languages() -> None:
    assert (
        render(example("CallClosingSoon"), "fr", URL).subject
        == "[Passerelle] Appel AAP-SENIORS-2026 : clôture dans 7 jours"
    )
    assert (
        render(example("CallClosingSoon"), "nl", URL).subject
        == "[Passerelle] Oproep AAP-SENIORS-2026: sluit over 7 dagen"
    )
    assert "31 mars 2026 à 23:59 (heure de Bruxelles)" in render(example("CallClosingSoon"), "fr", URL).body
    assert (
        render(example("ActivityReturnReminder"), "fr", URL).subject
        == "[Passerelle] Relevé d'activité T1 2026 de epn-ixelles en retard"
    )
    assert "kwartaal K1 2026" in render(example("ActivityReturnReminder"), "nl", URL).body


def test_a_donor_hears_of_its_batch_in_counts_and_devices_in_the_plural_they_take() -> None:
    assert render(example("BatchMilestoneReached"), "fr", URL).subject == "[Passerelle] Votre lot PAR-2024-01 : effacé"
    assert "échecs d'effacement : 4" in render(example("BatchMilestoneReached"), "fr", URL).body
    assert (
        "120 ordinateurs portables, 60 ordinateurs de bureau et 40 écrans"
        in render(example("BatchDeclared"), "fr", URL).body
    )
    assert "120 laptops, 60 desktops en 40 schermen" in render(example("BatchDeclared"), "nl", URL).body
    one = example("DevicesDelivered", devices={"tablet": 1}, total_devices=1)
    assert render(one, "fr", URL).subject == "[Passerelle] 1 appareil livré à asbl-devoirs-anderlecht"
    assert "1 appareil reconditionné a été livré le 13 mars 2024" in render(one, "fr", URL).body


@pytest.mark.parametrize(
    ("event_type", "path", "group"),
    [
        ("ActionDetailsChanged", "/actions/38", "action:38"),
        ("DecisionRecorded", "/actions/46", "action:46"),
        ("AnnualReportPublished", "/annual-reports/annual-report-2024", "annual-report:annual-report-2024"),
        (
            "DeviceSanitised",
            "/equipment/batches/1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b",
            "batch:1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b",
        ),
        (
            "DevicesTransferred",
            "/equipment/batches/1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b",
            "batch:1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b",
        ),
        (
            "DevicesAllocated",
            "/equipment/requests/2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d",
            "request:2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d",
        ),
        (
            "DeliveryFollowUpDue",
            "/equipment/deliveries/5d0c1f8e-0f7b-4b43-9d8a-6c1e2f3a4b5c",
            "delivery:5d0c1f8e-0f7b-4b43-9d8a-6c1e2f3a4b5c",
        ),
        (
            "DeviceDisposed",
            "/equipment/devices/9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
            "device:9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
        ),
        ("ActivityReturnSubmitted", "/funding/epns/epn-ixelles", "epn:epn-ixelles"),
        ("CadastreCoverageChanged", "/funding/cadastre", "cadastre:2024"),
        ("CallOpened", "/funding/calls/AAP-SENIORS-2026", "call:AAP-SENIORS-2026"),
        (
            "ApplicationDecided",
            "/funding/applications/7c6b5a49-3827-4615-9a0b-1c2d3e4f5a6b",
            "application:7c6b5a49-3827-4615-9a0b-1c2d3e4f5a6b",
        ),
        (
            "PaymentMade",
            "/funding/grants/9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
            "grant:9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
        ),
    ],
)
def test_each_event_links_to_the_dashboard_page_of_the_thing_it_is_about(
    event_type: str, path: str, group: str
) -> None:
    text = render(example(event_type), "fr", URL + "/")

    assert (text.link, text.group) == (URL + path, group)


# --- digests ------------------------------------------------------------------------------------------

T0 = datetime(2024, 3, 1, 7, 0, tzinfo=UTC)


def item(event_type: str, minutes: int, **data: Any) -> DigestItem:
    envelope = example(event_type, **data)
    return DigestItem(uuid.uuid4(), event_type, T0 + timedelta(minutes=minutes), envelope.data)


def measured(
    minutes: int, previous: float, value: float, action: int = 46, code: str = "a46-devices-pupils"
) -> DigestItem:
    return item(
        "IndicatorMeasured", minutes, action_number=action, indicator_code=code, previous_value=previous, value=value
    )


def daily(items: list[DigestItem], language: Language = "fr") -> Any:
    return render_digest(items, language, URL, kind="daily", since=T0, until=T0 + timedelta(days=1))


def bullet_lines(body: str) -> list[str]:
    return [line[4:] for line in body.splitlines() if line.startswith("  – ")]


def count_of(line: str) -> int:
    """How many events a digest line stands for, read from its text as a partner reads it."""
    if match := re.search(r"\(×([\d\u202f.]+)\)$|\(([\d\u202f.]+) (?:mesures|metingen)\)$", line):
        return int(re.sub(r"\D", "", match[1] or match[2]))
    return 1


def test_a_digest_folds_an_indicators_measurements_from_the_oldest_previous_value_to_the_newest_value() -> None:
    values = [3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]
    items = [measured(minutes=i, previous=old, value=new) for i, (old, new) in enumerate(itertools.pairwise(values))]
    items.append(measured(minutes=99, previous=40, value=41, code="a46-other"))
    random.Random(1).shuffle(items)

    fr, nl = daily(items, "fr"), daily(items, "nl")

    assert bullet_lines(fr.body) == [
        "Action 46 : « Appareils reconditionnés livrés aux associations d'élèves » passe de 40 à 41",
        "Action 46 : « Appareils reconditionnés livrés aux associations d'élèves » passe de 3 à 17 (13 mesures)",
    ]
    assert "gaat van 3 naar 17 (13 metingen)" in nl.body
    assert fr.subject == "[Passerelle] Résumé du 2 mars 2024 : 14 changements"


def test_a_ten_thousand_device_import_reads_as_a_few_lines_with_their_counts() -> None:
    states = ["wiped"] * 9_800 + ["failed"] * 200
    items = [
        item("DeviceSanitised", minutes=i % 600, device_id=str(uuid.UUID(int=i)), sanitisation=state)
        for i, state in enumerate(states)
    ]

    lines = bullet_lines(daily(items).body)

    assert sorted(lines) == [
        "Lot 1f2e3d4c : ordinateur portable — effacement échoué (×200)",
        f"Lot 1f2e3d4c : ordinateur portable — effacé (×9{NNBSP}800)",
    ]


def test_digest_groups_come_newest_first_and_their_lines_newest_first_too() -> None:
    items = [
        item("ReportSubmitted", minutes=1),
        item("GrantAwarded", minutes=2),
        item("ReportApproved", minutes=3),
        item("DevicesDelivered", minutes=0),
    ]

    groups = digest_groups(items, "fr", URL)

    assert [g.key for g in groups] == [
        "action:38",
        "grant:9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
        "delivery:5d0c1f8e-0f7b-4b43-9d8a-6c1e2f3a4b5c",
    ]
    assert [line.text for line in groups[0].lines] == [
        "Action 38 : rapport 2024 approuvé",
        "Action 38 : rapport 2024 soumis",
    ]
    assert groups[0].link == f"{URL}/actions/38"  # the action's page, not one report's


def test_a_group_is_headed_by_its_most_telling_title() -> None:
    items = [
        item("ReportSubmitted", minutes=5),
        item("ActionDetailsChanged", minutes=1),
        item("ReportApproved", minutes=9),
    ]

    assert (
        digest_groups(items, "nl", URL)[0].title
        == "Actie 38 — Formation bureautique certifiante pour chercheurs d'emploi"
    )


POOL = [t for t in SUBSCRIBABLE if t not in ("IndicatorMeasured", "DeviceSanitised")]


def random_items(rng: random.Random) -> list[DigestItem]:
    items: list[DigestItem] = []
    for _ in range(rng.randrange(0, 120)):
        minutes = rng.randrange(0, 30)  # ties on purpose
        roll = rng.random()
        if roll < 0.4:
            old = rng.randrange(0, 50)
            items.append(
                measured(minutes, old, old + rng.randrange(-3, 5), rng.choice([11, 46]), rng.choice(["a", "b"]))
            )
        elif roll < 0.7:
            items.append(
                item(
                    "DeviceSanitised",
                    minutes,
                    batch_id=rng.choice(["b-1", "b-2"]),
                    kind=rng.choice(["laptop", "tablet"]),
                    sanitisation=rng.choice(["wiped", "failed"]),
                )
            )
        else:
            items.append(item(rng.choice(POOL), minutes))
    return items


@pytest.mark.parametrize("seed", range(25))
def test_no_item_is_ever_dropped_from_a_digest_each_is_counted_in_exactly_one_line(seed: int) -> None:
    items = random_items(random.Random(seed))

    groups = digest_groups(items, "fr", URL)
    fr, nl = daily(items, "fr"), daily(items, "nl")

    assert sum(line.count for group in groups for line in group.lines) == len(items)
    assert sum(count_of(line) for line in bullet_lines(fr.body)) == len(items)
    assert sum(count_of(line) for line in bullet_lines(nl.body)) == len(items)
    assert len({g.key for g in groups}) == len(groups)


def test_an_empty_digest_says_briefly_that_nothing_changed() -> None:
    fr, nl = daily([], "fr"), daily([], "nl")

    assert fr.subject == "[Passerelle] Résumé du 2 mars 2024 : rien de neuf"
    assert (
        "Rien n'a changé dans Passerelle du 1er mars 2024 à 08:00 au 2 mars 2024 à 08:00 (heure de Bruxelles)"
        in fr.body
    )
    assert nl.line == "Dagoverzicht: niets nieuws"
    assert bullet_lines(fr.body) == []


def test_a_weekly_digest_names_its_week() -> None:
    text = render_digest([item("GrantAwarded", 0)], "nl", URL, kind="weekly", since=T0, until=T0 + timedelta(days=7))

    assert text.subject == "[Passerelle] Weekoverzicht van 1 maart 2024 tot 8 maart 2024: 1 wijziging"
    assert text.group == "digest:weekly"


def test_the_digest_before_a_meeting_names_it_and_says_what_changed_since_the_last_one() -> None:
    meeting = example("MeetingScheduled").data
    items = [item("ReportReturned", 3), measured(1, 100, 125)]

    fr = render_digest(items, "fr", URL, kind="meeting", since=T0, until=T0 + timedelta(days=10), meeting=meeting)
    nl = render_digest(items, "nl", URL, kind="meeting", since=T0, until=T0 + timedelta(days=10), meeting=meeting)

    assert fr.subject == (
        "[Passerelle] Avant le Groupe de travail du 12 mars 2024 : ce qui a changé depuis la dernière réunion"
    )
    assert "se réunit le mardi 12 mars 2024, de 09:30 à 11:30 (heure de Bruxelles)" in fr.body
    assert "Ce qui a changé depuis la dernière réunion (le 1er mars 2024) : 2 changements pour 2 sujets." in fr.body
    assert "  – Action 38 : rapport 2024 renvoyé (« Merci d'ajouter le nombre de participants. »)" in fr.body
    assert nl.subject.startswith("[Passerelle] Voor de vergadering van de Werkgroep van 12 maart 2024")
    assert "De Werkgroep vergadert op dinsdag 12 maart 2024" in nl.body
    assert (fr.group, fr.link) == (
        "meeting:b1a2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
        f"{URL}/meetings/b1a2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
    )
    with pytest.raises(ValueError, match="meeting"):
        render_digest(items, "fr", URL, kind="meeting", since=T0, until=T0)


# --- reminder, footer, bounce alert, preview --------------------------------------------------------


def test_the_reminder_the_day_before_a_meeting_says_tomorrow_when_and_where() -> None:
    fr = render_meeting_reminder(example("MeetingRescheduled").data, "fr", URL)
    nl = render_meeting_reminder(example("MeetingScheduled").data, "nl", URL)

    assert fr.subject == "[Passerelle] Rappel : Groupe de travail demain, jeudi 14 mars 2024 à 09:30"
    assert "Où : Rue Royale 2-4, 1000 Bruxelles, salle 3" in fr.body
    assert nl.subject == "[Passerelle] Herinnering: Werkgroep morgen, dinsdag 12 maart 2024 om 09:30"
    assert fr.link == f"{URL}/meetings/b1a2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"


def test_the_footer_says_why_offers_a_one_click_unsubscribe_and_where_to_manage_preferences() -> None:
    footer = render_footer(
        "fr",
        reason="Vous recevez ce message parce que votre organisation suit l'action 46.",
        unsubscribe_url=f"{URL}/u/abc",
        preferences_url=f"{URL}/notifications/preferences",
    )

    assert footer == (
        "Vous recevez ce message parce que votre organisation suit l'action 46.\n"
        f"Se désabonner en un clic : {URL}/u/abc\n"
        f"Gérer vos préférences de notification : {URL}/notifications/preferences\n"
    )


def test_a_critical_message_cannot_be_muted_and_its_footer_says_so() -> None:
    footer = render_footer("nl", reason="U bent de contactpersoon.", unsubscribe_url=None, preferences_url=f"{URL}/p")

    assert "uitschrijven" not in footer
    assert "Dit bericht is belangrijk: u kunt het niet uitschakelen." in footer
    assert footer.endswith(f"Uw meldingsvoorkeuren beheren: {URL}/p\n")


def test_a_bounce_alert_names_the_organisation_and_the_contact_number_never_a_person() -> None:
    fr = render_bounce_alert("asbl-exemple", 17, 3, "fr", URL)
    nl = render_bounce_alert("asbl-exemple", 17, 3, "nl", URL)

    assert fr.subject == "[Passerelle] E-mails suspendus : contact n° 17 de asbl-exemple"
    assert "refusés définitivement 3 fois" in fr.body
    assert nl.line == "Contact nr. 17 van asbl-exemple: e-mails opgeschort na 3 definitieve weigeringen"
    assert (fr.group, fr.link) == ("partner:asbl-exemple", f"{URL}/notifications/partners/asbl-exemple")
    assert "@" not in fr.body + nl.body


def test_a_template_is_previewed_from_the_command_line_with_the_contracts_example(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["preview", "IndicatorMeasured", "nl"]) == 0
    assert "Subject: [Passerelle] Actie 46:" in capsys.readouterr().out
    assert main(["preview", "digest", "fr"]) == 0
    assert "Résumé du" in capsys.readouterr().out
    assert main(["preview", "NoSuchType", "fr"]) == 1


def test_the_templates_use_only_the_variables_and_blocks_the_readme_documents() -> None:
    documented = {"d", "changes", "event_type", "occurred_at", "link", "folded", "m", "localized", "language"}
    env = environment("fr")
    used = {
        name: meta.find_undeclared_variables(env.parse((TEXTS / "fr" / f"{name}.j2").read_text("utf-8"))) - documented
        for name in SUBSCRIBABLE
    }
    assert {name: names for name, names in used.items() if names} == {}
    assert all(f"`{variable}`" in (TEXTS / "README.md").read_text("utf-8") for variable in documented - {"m"})
