"""The reports carry a reliability section: per case, each scenario's figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blockyard_conformance.accounting import Ledger
from blockyard_conformance.reports import write_reports
from blockyard_conformance.results import CaseResult, TestOutcome


def test_reliability_section_in_every_format(tmp_path: Path) -> None:
    figures = {"scenario": "SIGKILL of the broker", "sent": 500, "delivered": 500, "duplicated": 2, "lost": 0}
    test = TestOutcome("pubsub.x", "test_confirmed_messages_survive_a_backend_kill", "fault", reliability=[figures])
    result = CaseResult("pubsub.x", "pubsub.x", "x 1.0", "passed", passed=1, tests=[test])
    write_reports([result], tmp_path)
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["cases"][0]["reliability"] == [
        {"test": "test_confirmed_messages_survive_a_backend_kill", "outcome": "passed", **figures}
    ]
    md = (tmp_path / "report.md").read_text()
    assert "### Reliability" in md
    assert "| pubsub.x | SIGKILL of the broker | passed | 500 | 500 | 2 | 0 |" in md
    assert "<h2>Reliability</h2>" in (tmp_path / "report.html").read_text()


def test_no_reliability_section_without_scenarios(tmp_path: Path) -> None:
    write_reports([CaseResult("state.x", "state.x", "embedded", "passed")], tmp_path)
    assert "Reliability" not in (tmp_path / "report.md").read_text()


def test_ledger_counts_loss_duplicates_and_strays() -> None:
    ledger = Ledger()
    for seq in range(4):
        ledger.sent(seq, at=0.0)
    for seq in (0, 1, 1, 2, 9):
        ledger.delivered(seq)
    figures = ledger.figures()
    assert (figures["sent"], figures["delivered"], figures["deliveries"]) == (4, 3, 5)
    assert (figures["duplicated"], figures["lost"], figures["strays"]) == (1, 1, 1)
    assert ledger.lost == [3]
    assert not ledger.all_delivered()
    with pytest.raises(AssertionError, match="never delivered"):
        ledger.assert_exact(max_duplicates=1)
