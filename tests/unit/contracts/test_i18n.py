"""French and Dutch as partners read them: the shared labels, numbers, percentages and dates that
e-mails, annual reports and certificates all use (``passerelle_contracts.i18n``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import get_args

import pytest
from passerelle_contracts import common, i18n, labels
from passerelle_contracts.common import (
    ACTION_STATUSES,
    DEVICE_KINDS,
    FUNDER_KINDS,
    LABEL_STATUSES,
    RECIPIENT_KINDS,
    TRAFFIC_LIGHTS,
)
from passerelle_contracts.i18n import (
    DEVICE_KIND,
    FIELD,
    FUNDER_KIND,
    LABEL_STATUS,
    MEETING_KIND,
    RECIPIENT_KIND,
    REPORT_STATUS,
    STATUS,
    TRAFFIC_LIGHT,
    as_language,
    fmt_date,
    fmt_datetime,
    fmt_number,
    fmt_percent,
    label,
    localized,
    month_name,
)

NNBSP = "\u202f"


def test_french_separates_thousands_with_a_narrow_no_break_space_and_dutch_with_a_dot() -> None:
    assert fmt_number(1234.5, "fr") == f"1{NNBSP}234,5"
    assert fmt_number(1234.5, "nl") == "1.234,5"
    assert fmt_number(15000, "fr") == f"15{NNBSP}000"
    assert fmt_number(15000, "nl") == "15.000"
    assert fmt_number(1_234_567, "nl") == "1.234.567"


def test_a_number_keeps_at_most_two_decimals_and_drops_trailing_zeros() -> None:
    assert fmt_number(12.5, "fr") == "12,5"
    assert fmt_number(Decimal("1500.00"), "fr") == f"1{NNBSP}500"
    assert fmt_number(3.14159, "nl") == "3,14"
    assert fmt_number(3.14159, "nl", decimals=0) == "3"
    assert fmt_number(0.001, "fr") == "0"


def test_numbers_are_rounded_half_up_on_the_value_as_it_prints() -> None:
    # 2.675 is stored as 2.67499… in binary; people read 2.675 and round it to 2.68.
    assert fmt_number(2.675, "fr") == "2,68"
    assert fmt_number(0.125, "nl") == "0,13"
    assert fmt_number(Decimal("0.125"), "nl") == "0,13"


def test_a_tiny_negative_number_is_shown_as_zero_not_minus_zero() -> None:
    assert fmt_number(-0.001, "fr") == "0"
    assert fmt_number(-1234.5, "fr") == f"-1{NNBSP}234,5"


def test_amounts_and_counts_are_exact_whatever_their_size_or_type() -> None:
    assert fmt_number(Decimal("1234567.89"), "fr") == f"1{NNBSP}234{NNBSP}567,89"
    assert fmt_number(12_345_678_901_234_567_890, "nl") == "12.345.678.901.234.567.890"
    assert fmt_number("42.50", "nl") == "42,5"


def test_a_missing_number_is_an_em_dash() -> None:
    assert fmt_number(None, "nl") == "—"
    assert fmt_percent(None, "fr") == "—"


def test_a_percentage_has_one_decimal_and_a_narrow_space_before_the_sign_in_french_only() -> None:
    assert fmt_percent(1234.5 / 2000 * 100, "fr") == f"61,7{NNBSP}%"
    assert fmt_percent(1234.5 / 2000 * 100, "nl") == "61,7%"
    assert fmt_percent(100, "fr") == f"100{NNBSP}%"
    assert fmt_percent(62.25, "nl") == "62,3%"


def test_dates_are_written_in_words_with_the_french_first_of_the_month() -> None:
    assert fmt_date(date(2024, 1, 1), "fr") == "1er janvier 2024"
    assert fmt_date(date(2024, 1, 1), "nl") == "1 januari 2024"
    assert fmt_date(date(2024, 12, 31), "fr") == "31 décembre 2024"
    assert fmt_date(date(2025, 3, 13), "nl") == "13 maart 2025"


def test_numeric_dates_use_slashes_in_french_and_dashes_in_dutch() -> None:
    assert fmt_date(date(2025, 3, 5), "fr", numeric=True) == "05/03/2025"
    assert fmt_date(date(2025, 3, 5), "nl", numeric=True) == "05-03-2025"


def test_a_datetime_in_words_is_given_to_the_minute_in_utc() -> None:
    assert fmt_datetime(datetime(2025, 1, 15, 9, 30, tzinfo=UTC), "fr") == "15 janvier 2025 à 09:30 UTC"
    assert fmt_datetime(datetime(2025, 1, 15, 9, 30, tzinfo=UTC), "nl") == "15 januari 2025 om 09:30 UTC"
    brussels_winter = timezone(timedelta(hours=1))
    assert fmt_datetime(datetime(2025, 1, 15, 10, 30, tzinfo=brussels_winter), "fr") == "15 janvier 2025 à 09:30 UTC"


def test_a_numeric_datetime_is_given_to_the_second_in_utc_and_a_naive_one_without_a_zone() -> None:
    started = datetime(2025, 3, 12, 9, 5, tzinfo=UTC)
    assert fmt_datetime(started, "fr", numeric=True) == "12/03/2025 09:05:00 UTC"
    assert fmt_datetime(started, "nl", numeric=True) == "12-03-2025 09:05:00 UTC"
    assert fmt_datetime(datetime(2025, 3, 12, 23, 30, tzinfo=timezone(timedelta(hours=-2))), "fr", numeric=True) == (
        "13/03/2025 01:30:00 UTC"
    )
    naive = datetime(2025, 3, 12, 9, 5)  # noqa: DTZ001 - on purpose: a naive time is shown without a zone
    assert fmt_datetime(naive, "nl", numeric=True) == "12-03-2025 09:05:00"


def test_month_names_are_in_lower_case() -> None:
    assert [month_name(m, "fr") for m in (2, 8, 12)] == ["février", "août", "décembre"]
    assert [month_name(m, "nl") for m in (2, 8, 12)] == ["februari", "augustus", "december"]


def test_a_code_is_shown_by_its_label_an_unknown_code_as_it_is_and_nothing_as_a_dash() -> None:
    assert label(STATUS, "fr", "on_hold") == "suspendue"
    assert label(STATUS, "nl", "on_hold") == "opgeschort"
    assert label(REPORT_STATUS, "nl", "returned") == "teruggestuurd"
    assert label(MEETING_KIND, "fr", "copil") == "Comité de pilotage (COPIL)"
    assert label(DEVICE_KIND, "fr", "laptop") == "ordinateur portable"
    assert label(STATUS, "fr", "a-new-status") == "a-new-status"
    assert label(STATUS, "fr", None) == "—"
    assert label(FIELD, "nl", "") == "—"


def test_every_code_of_the_contracts_has_a_label_in_both_languages() -> None:
    for table, codes in (
        (STATUS, ACTION_STATUSES),
        (TRAFFIC_LIGHT, TRAFFIC_LIGHTS),
        (RECIPIENT_KIND, RECIPIENT_KINDS),
        (DEVICE_KIND, DEVICE_KINDS),
        (LABEL_STATUS, LABEL_STATUSES),
        (FUNDER_KIND, FUNDER_KINDS),
        (i18n.REMINDER_STAGE, get_args(common.ReminderStage)),
        (i18n.APPLICATION_DECISION, get_args(common.ApplicationDecision)),
        (i18n.AGE_BAND, common.AGE_BANDS),
        (i18n.GENDER, common.GENDERS),
        (i18n.EMPLOYMENT_STATUS, common.EMPLOYMENT_STATUSES),
        (i18n.EDUCATION_LEVEL, common.EDUCATION_LEVELS),
    ):
        for language in ("fr", "nl"):
            assert set(table[language]) == set(codes), (table, language)


def test_the_dutch_text_is_used_when_there_is_one_else_the_french_one() -> None:
    assert localized("nl", "Cyber-héros", "Cyberhelden") == "Cyberhelden"
    assert localized("nl", "Cyber-héros", "  ") == "Cyber-héros"
    assert localized("fr", "Cyber-héros", "Cyberhelden") == "Cyber-héros"


def test_only_french_and_dutch_are_languages() -> None:
    assert as_language("nl") == "nl"
    with pytest.raises(ValueError, match="language must be one of fr, nl, not 'de'"):
        as_language("de")


def test_the_old_labels_module_still_gives_partners_the_same_tables() -> None:
    assert labels.STATUS is i18n.STATUS
    assert labels.FIELD is i18n.FIELD
    assert labels.label(labels.TRAFFIC_LIGHT, "nl", "at_risk") == "risico"
