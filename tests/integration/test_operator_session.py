"""bench/operator_session.py, the new operator's session of issue #15, runs end to end and keeps its promises:
explain agrees with the router's decision record, each deliberate mistake is one line and exit 2; and its checks
catch a disagreement or a multi-line error, so the transcript cannot pass while saying something false."""

from __future__ import annotations

import io
import json
import re
from types import ModuleType

import pytest

from tests.conftest import SAMPLES_DIR
from tests.support.scripts import load_script

SCRIPT = SAMPLES_DIR.parent / "bench" / "operator_session.py"
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS::")  # moto's note on resources it skips


def load() -> ModuleType:
    return load_script(SCRIPT, "operator_session")


@pytest.fixture(scope="module")
def session() -> ModuleType:
    return load()


def test_the_session_passes_and_shows_each_step(session: ModuleType) -> None:
    # WHEN the whole session runs (deploy in dry run, preflight, a returning customer, explain, three mistakes)
    out = io.StringIO()
    problems = session.session(out)
    transcript = out.getvalue()

    # THEN nothing went wrong, and the transcript shows each command with its status
    assert problems == [], transcript
    assert transcript.rstrip().endswith("# PASS")
    for command in (
        "$ contact-router rules validate samples/rules.yaml",
        "$ contact-router preflight --stack-name contact-router --region eu-west-2",
        "contact-router explain --contact-id 44444444-0000-4000-8000-000000000041 --env-from-function "
        "contact-router-router --json",
    ):
        assert command in transcript
    assert "DryRun=true" in transcript
    assert re.search(r"\n\d+ PASS, 1 WARN, 0 FAIL\n", transcript)  # the WARN is dry run, as the checklist expects
    assert "# explain agrees with the router's decision record, field for field: WouldAssociate" in transcript
    assert "the router would offer the SMS to omar (dry run)" in transcript
    # AND the three mistakes are one line each, exit 2
    errors = [line for line in transcript.splitlines() if line.startswith("Error: ")]
    assert [e.split(":", 2)[1].strip() for e in errors] == [
        "no such contact in this instance",
        "no AWS Region configured",
        "no AWS credentials found",
    ]
    assert transcript.count("$ echo $?\n2\n") == 3


def test_a_disagreement_between_explain_and_the_record_is_a_problem(session: ModuleType) -> None:
    record = {"outcome": "WouldAssociate", "agent_id": "a", "candidates": [{"source": "last_agent:phone"}]}
    agreeing = session.Console(io.StringIO())
    session._compare(agreeing, json.dumps({"decision": {**record, "event_type": None}}), record)
    assert agreeing.problems == []
    # GIVEN explain names another agent
    console = session.Console(io.StringIO())
    session._compare(console, json.dumps({"decision": {**record, "agent_id": "b"}}), record)
    assert console.problems == ["explain disagrees with the router's decision record on ['agent_id']"]


def test_a_mistake_that_is_not_one_line_and_exit_2_is_a_problem(session: ModuleType) -> None:
    # GIVEN a command that succeeds (exit 0, several lines): as a "mistake" it fails the session's check
    console = session.Console(io.StringIO())
    session._mistake(console, ["rules", "validate", str(SAMPLES_DIR / "rules.yaml")], {}, "")
    assert any("exited 0, not 2" in p for p in console.problems)
    assert any("lines, not one" in p for p in console.problems)
