"""Hostile and oversized rules documents through the real loader: how long each takes to be refused (or loaded).

    .venv/bin/python bench/hostile_rules.py

Each document is parsed once by ``contact_router.rules.loader.parse_rules`` (the function every rules source
uses); the line shows its size, the wall time and the outcome. It imports only ``parse_rules`` so it runs
unchanged against older commits (``PYTHONPATH=<checkout>/functions``) for before/after figures. Nothing here
asserts: it is a benchmark, not a test (the outcomes are pinned by tests/unit/test_rules.py).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "functions") not in sys.path:
    sys.path.append(str(ROOT / "functions"))

from contact_router.rules.loader import RulesError, parse_rules  # noqa: E402

RULE = "  - name: rule-{i:05d}\n    when: {{channel: [CHAT]}}\n    candidates: [{{attribute: pref{i:05d}}}]\n"


def rules(count: int, rule: str = RULE) -> str:
    return "version: 1\nrouting:\n" + "".join(rule.format(i=i) for i in range(count))


DOCUMENTS: dict[str, Callable[[], str]] = {
    "600 levels deep": lambda: (
        "version: 1\nrouting:\n  - name: x\n    description: "
        + "[" * 600
        + "]" * 600
        + "\n    candidates: [{owner: true}]\n"
    ),
    "5,000-digit integer": lambda: rules(1) + "    ignore_capacity: " + "9" * 5000 + "\n",
    "19,999 rules (1.8 MB)": lambda: rules(19_999),
    "2,400 compact rules": lambda: rules(2_400, "  - {{name: r{i}, candidates: [{{owner: true}}]}}\n"),
    "billion laughs (aliases)": lambda: (
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join([f'*{chr(97 + n)}'] * 9)}]\n" for n in range(8))
    ),
    "empty file": lambda: "",
    "no rules": lambda: "version: 1\n",
    "500 valid rules (at the limit)": lambda: rules(500),
}


def main() -> None:
    for name, build in DOCUMENTS.items():
        text = build()
        started = time.perf_counter()
        try:
            loaded = parse_rules(text, "bench.yaml")
            outcome = f"loaded, {len(loaded.routing)} routing rule(s)"
        except RulesError as exc:
            outcome = "refused: " + exc.problems[0].removeprefix("bench.yaml: ")
        except (RecursionError, ValueError, TypeError, MemoryError) as exc:  # what older loaders let escape
            outcome = f"UNHANDLED {type(exc).__name__}: {str(exc)[:70]}"
        elapsed = time.perf_counter() - started
        print(f"{name:32} {len(text.encode()):>9} B {elapsed:9.3f} s  {outcome[:110]}")


if __name__ == "__main__":
    main()
