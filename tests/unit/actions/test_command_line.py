"""The actions service's own commands: a mistake on the command line is its reason and status 2
(as the runtime's commands answer), never a traceback half-way through the command."""

from __future__ import annotations

import argparse
from datetime import date

import pytest

from services.actions.cli import COMMANDS


def parse(command: str, *args: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m services.actions {command}")
    COMMANDS[command].configure(parser)
    return parser.parse_args(list(args))


@pytest.mark.parametrize(
    ("command", "args", "reason"),
    [
        ("annual-report", ["--year", "2024", "--as-of", "2024-13-01", "--out", "x"], "not a date like 2024-12-31"),
        ("annual-report", ["--year", "2024", "--as-of", "31/12/2024", "--out", "x"], "not a date like 2024-12-31"),
        ("annual-report", ["--year", "10000", "--as-of", "2024-12-31", "--out", "x"], "not a year from 2000 to 2100"),
        ("annual-report", ["--year", "²⁰²⁴", "--as-of", "2024-12-31", "--out", "x"], "not a year from 2000 to 2100"),
        ("check-milestones", ["--as-of", "2024-02-30"], "not a date like 2024-12-31"),
    ],
)
def test_a_date_or_a_year_that_cannot_be_read_is_refused_with_its_reason_and_status_2(
    command: str, args: list[str], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse(command, *args)
    assert exit_.value.code == 2
    assert reason in capsys.readouterr().err


def test_a_date_and_a_year_are_read_as_such() -> None:
    args = parse("annual-report", "--year", "2024", "--as-of", "2024-12-31", "--out", "x")
    assert (args.year, args.as_of) == (2024, date(2024, 12, 31))
    assert parse("check-milestones").as_of is None, "default: today in Brussels"
