"""The list of failed and errored tests that .ci/run prints at its end."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.test_report import main, problems

REPORT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" tests="3">
  <testcase classname="tests.unit.test_a" name="test_passes" time="0.1"/>
  <testcase classname="tests.unit.test_a" name="test_fails" time="0.1">
    <failure message="AssertionError: assert 1 == 2&#10;more">trace</failure></testcase>
  <testcase classname="tests.integration.test_b" name="test_breaks_in_teardown" time="0.1">
    <error message="failed on teardown with &quot;TimeoutError&quot;">trace</error></testcase>
</testsuite></testsuites>
"""


def test_failures_and_errors_are_named_apart_with_the_first_line_of_their_reason(tmp_path: Path) -> None:
    report = tmp_path / "local.xml"
    report.write_text(REPORT, encoding="utf-8")
    assert problems(report) == [
        "FAILED tests.unit.test_a::test_fails - AssertionError: assert 1 == 2",
        'ERROR tests.integration.test_b::test_breaks_in_teardown - failed on teardown with "TimeoutError"',
    ]


def test_the_list_names_its_run_and_says_how_many(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "containers.xml").write_text(REPORT, encoding="utf-8")
    assert main(["test_report", str(tmp_path / "containers.xml"), str(tmp_path / "missing.xml")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("[containers] FAILED tests.unit.test_a::test_fails")
    assert out[-1] == "2 failed or errored tests in 1 reports"
