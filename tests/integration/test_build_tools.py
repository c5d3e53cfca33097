"""tools/find-python3.13: where `make build` finds the Lambda runtime's interpreter, or what to install."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import ROOT

SCRIPT = ROOT / "tools" / "find-python3.13"


def bare_path(tmp_path: Path) -> Path:
    """A PATH with only the tools the script uses: no python3.13, no pyenv, no uv."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "grep", "sort", "tail"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    return bin_dir


def run(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(path / "bash"), str(SCRIPT)], env={"PATH": str(path)}, capture_output=True, text=True, check=False
    )


def test_without_python_313_it_says_in_one_line_what_to_install(tmp_path: Path) -> None:
    result = run(bare_path(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(
        "make build needs Python 3.13 (the Lambda runtime) and found none on PATH, in pyenv or in uv"
    )
    assert "uv python install 3.13" in line
    assert "pyenv install 3.13" in line


def test_a_python_313_on_path_is_used(tmp_path: Path) -> None:
    bin_dir = bare_path(tmp_path)
    fake = bin_dir / "python3.13"
    # answers sys.executable with its own path, and the version check with success
    fake.write_text('#!/bin/bash\ncase "$2" in *sys.executable*) echo "$0";; *) exit 0;; esac\n')
    fake.chmod(0o755)
    result = run(bin_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(bin_dir)


def test_make_build_uses_the_finder() -> None:
    makefile = (ROOT / "Makefile").read_text()
    build = makefile[makefile.index("\nbuild:") :].split("\n\n", 1)[0]
    assert "tools/find-python3.13" in build
    assert "/root/.pyenv" not in makefile
