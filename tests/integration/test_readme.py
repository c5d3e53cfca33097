"""The README's sample output is what `make run` prints (its first lines, on a 200-column terminal)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from contact_router_cli.main import main
from tests.conftest import ROOT

MARKER = "<!-- the first lines of `make run`; tests/integration/test_readme.py runs it and compares -->\n```\n"


def readme_sample() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text[text.index(MARKER) + len(MARKER) :]
    lines = block[: block.index("```")].splitlines()
    assert lines[-1] == "…", "the sample ends with an ellipsis line"
    return lines[:-1]


def test_the_readme_sample_is_the_real_output_of_make_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # GIVEN `make run` from the repository root (it runs `contact-router run` with every default)
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(
        main, ["run", "--log", str(tmp_path / "run.jsonl")], env={"COLUMNS": "200"}, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    # THEN the README shows its first lines exactly (rich pads titles with spaces: trailing blanks aside)
    sample = readme_sample()
    printed = [line.rstrip() for line in result.output.splitlines()]
    assert len(sample) >= 20
    assert printed[: len(sample)] == sample
