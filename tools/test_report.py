"""The tests that failed or errored, read back from pytest's JUnit XML reports, one line each.

``python -m tools.test_report REPORT.xml …``

``scripts/test`` writes one report per pytest run (the local suite, then the container suite)
under ``$PASSERELLE_RUN_DIR/test-results/``; ``.ci/run`` prints this list at its very end when it
fails, so the names are on the last screen of a long CI log instead of scrolled away between the
two runs. An error (in a fixture's setup or teardown) is named apart from a failed assertion.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def problems(report: Path) -> list[str]:
    """``FAILED suite::test`` and ``ERROR suite::test`` lines of one report, in its order."""
    lines = []
    # Our own pytest wrote it, in this run: trusted input, no need for defusedxml.
    for case in ET.parse(report).getroot().iter("testcase"):  # noqa: S314
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        for kind, word in (("failure", "FAILED"), ("error", "ERROR")):
            found = case.find(kind)
            if found is not None:
                reason = (found.get("message") or "").splitlines()[0:1]
                lines.append(f"{word} {name}" + (f" - {reason[0][:200]}" if reason else ""))
    return lines


def main(argv: list[str]) -> int:
    reports = [Path(a) for a in argv[1:] if Path(a).is_file()]
    found = [(report.stem, line) for report in reports for line in problems(report)]
    for run, line in found:
        print(f"[{run}] {line}")
    print(f"{len(found)} failed or errored tests in {len(reports)} reports")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
