"""The CSV files partners exchange with the equipment service: every cell bounded, a report per
bad row (its line and column) rather than a value the database cannot hold, and an export that
a spreadsheet shows but never runs."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest

from services.equipment import csv_formats

LOG_HEAD = (
    "device,medium_id,method,tool,tool_version,passes,verification,operator,started_at,ended_at,result,warnings\n"
)


def log_row(**cells: str) -> dict[str, str]:
    row = {
        "device": "PSR-AAAA-BBBB",
        "medium_id": "m1",
        "method": "purge",
        "tool": "nwipe",
        "tool_version": "0.35",
        "passes": "1",
        "verification": "full",
        "operator": "op-3",
        "started_at": "2024-02-20T09:00:00+01:00",
        "ended_at": "2024-02-20T10:00:00+01:00",
        "result": "passed",
        "warnings": "",
    }
    return {**row, **cells}


def refusal(**cells: str) -> tuple[str | None, str]:
    text = LOG_HEAD + ",".join(log_row(**cells).values()) + "\n"
    by_device, [error] = csv_formats.parse_sanitisations(text)
    assert by_device == {}
    return error["column"], error["reason"]


TOMORROW = (date.today() + timedelta(days=2)).isoformat()  # noqa: DTZ011 - a day after today wherever this runs


@pytest.mark.parametrize(
    ("cells", "column", "reason"),
    [
        ({"passes": "3000000000"}, "passes", "from 0 to 100"),
        ({"passes": "101"}, "passes", "from 0 to 100"),
        ({"passes": "\u00b2"}, "passes", "whole number from 0 to 100"),
        ({"passes": "\u0663"}, "passes", "whole number from 0 to 100"),
        (
            {"started_at": f"{TOMORROW}T09:00:00+01:00", "ended_at": f"{TOMORROW}T10:00:00+01:00"},
            "started_at",
            "has not happened yet",
        ),
        ({"started_at": "1999-02-20T09:00:00+01:00"}, "started_at", "not plausible"),
        ({"operator": "o" * 101}, "operator", "at most 100 characters"),
        ({"tool": "t" * 101}, "tool", "at most 100 characters"),
        ({"warnings": "w" * 2001}, "warnings", "at most 2000 characters"),
        ({"verification": "sometimes"}, "verification", "one of none, sample, full"),
        ({"medium_id": "m" * 20}, "medium_id", "at most 16 characters"),
        ({"device": "d" * 65}, "device", "at most 64 characters"),
    ],
)
def test_a_wiping_stations_row_out_of_bounds_is_refused_with_its_column(
    cells: dict[str, str], column: str, reason: str
) -> None:
    found_column, found_reason = refusal(**cells)
    assert found_column == column
    assert reason in found_reason


DEVICE_HEAD = "asset_tag,serial,kind,make,model,cpu,ram_gb,storage,year\n"


@pytest.mark.parametrize(
    ("line", "column", "reason"),
    [
        ("A" * 101 + ",S1,laptop,Dell,X,,,,", "asset_tag", "at most 100 characters"),
        ("A1,S1,laptop,Dell," + "M" * 101 + ",,,,", "model", "at most 100 characters"),
        ("A1,S1,laptop,Dell,X,,,ssd:99999999999,", "storage", "from 1 to 1000000 GB"),
        ("A1,S1,laptop,Dell,X,,,ssd:lots,", "storage", "from 1 to 1000000 GB"),
        ("A1,S1,laptop,Dell,X,,,ssd:\u00b2,", "storage", "from 1 to 1000000 GB"),
        ("A1,S1,laptop,Dell,X,,\u00b2,,", "ram_gb", "ram_gb must be a whole number from 0 to 4096"),
        ("A1,S1,laptop,Dell,X,,\u0663,,", "ram_gb", "ram_gb must be a whole number from 0 to 4096"),
        ("A1,S1,laptop,Dell,X,,,,\u00b2", "year", "year must be a whole number from 1990 to 2100"),
        ("A1,S1,laptop,Dell,X,,," + ";".join(["ssd:1"] * 17) + ",", "storage", "at most 16 media"),
        ("A1,S1,laptop,Dell,X,,,ssd:256:" + "S" * 101 + ",", "storage", "at most 100 characters"),
    ],
)
def test_a_device_row_out_of_bounds_is_refused_with_its_column(line: str, column: str, reason: str) -> None:
    rows, [error] = csv_formats.parse_csv(DEVICE_HEAD + line + "\n")
    assert rows == []
    assert (error["line"], error["column"]) == (2, column)
    assert reason in error["reason"]


def test_the_weee_register_never_hands_a_formula_to_a_spreadsheet() -> None:
    row = {
        "short_code": "PSR-AAAA-BBBB",
        "device_id": "0b3c",
        "kind": "laptop",
        "make": '=HYPERLINK("http://evil.example","click")',
        "model": "+cmd|' /C calc'!A0",
        "year": 2017,
        "donor": "cirb-paradigm",
        "recycler": "@SUM(1+1)",
        "disposed_on": date(2024, 9, 12),
        "method": "recycling",
        "certificate_reference": "-2+3",
    }
    [parsed] = list(csv.DictReader(io.StringIO(csv_formats.weee_csv([row]))))
    assert parsed["make"] == '\'=HYPERLINK("http://evil.example","click")'
    assert (parsed["model"], parsed["recycler"], parsed["certificate_reference"]) == (
        "'+cmd|' /C calc'!A0",
        "'@SUM(1+1)",
        "'-2+3",
    )
    assert (parsed["year"], parsed["disposed_on"]) == ("2017", "2024-09-12"), "numbers and dates stay as they are"
