"""bench/owners_import.py measures what it says: both transports reach moto (never AWS), the first import stores
every row with batched requests, the second finds every row unchanged and writes nothing. Not timed: the figures
are the benchmark's; this only keeps its harness honest (a bench that silently imported nothing would print a
flattering rate)."""

from __future__ import annotations

import re
from types import ModuleType

import pytest

from tests.conftest import SAMPLES_DIR
from tests.support.scripts import load_script

SCRIPT = SAMPLES_DIR.parent / "bench" / "owners_import.py"
ROWS = 60  # 3 kinds x 20: one BatchGetItem (100 keys) and three BatchWriteItem (25 items) per import


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_script(SCRIPT, "owners_import_bench")


@pytest.mark.parametrize("transport", ["in-process", "loopback"])
def test_each_transport_imports_every_row_once_in_batches(
    bench: ModuleType, transport: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # WHEN the benchmark imports the same file twice through this transport
    figures = bench.measure(ROWS, SAMPLES_DIR / "world.yaml", transport)
    out = capsys.readouterr().out

    # THEN the first import stored every row in batches, the second found every row unchanged and wrote nothing
    first, second = (line for line in out.splitlines() if "import (" in line)
    assert first.startswith(f"  {transport} ")
    assert f"stored {ROWS}, unchanged 0, bad 0  [batch_get_item 1, batch_write_item 3]" in first
    assert f"stored 0, unchanged {ROWS}, bad 0  [batch_get_item 1]" in second
    assert f"items in the table: {ROWS}" in out
    # AND the figures it returns are the ones it printed, one per import
    printed = [float(value) for value in re.findall(r"(\d+) rows/CPU-s", out)]
    assert [round(value) for value in figures] == printed
    assert len(figures) == 2


def test_the_comparison_reads_each_transport_s_figures_apart(bench: ModuleType) -> None:
    # GIVEN a subprocess's output with both transports
    out = (
        "  loopback   first import (all new)             336 rows/CPU-s      348 rows/s wall  stored 1\n"
        "  loopback   second import (all unchanged)      326 rows/CPU-s      337 rows/s wall  stored 0\n"
        "  in-process first import (all new)             809 rows/CPU-s      809 rows/s wall  stored 1\n"
        "  in-process second import (all unchanged)      784 rows/CPU-s      783 rows/s wall  stored 0\n"
    )

    # THEN each transport gets its own two figures, in order
    assert bench.figures_of(out, bench.TRANSPORTS) == {"loopback": [336, 326], "in-process": [809, 784]}
