"""pyproject.toml: `pip install ".[cli]"` brings everything the command line imports."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions

from packaging.requirements import Requirement

from tests.conftest import ROOT

FIRST_PARTY = {"contact_router", "contact_router_cli", "connect_emulator", "aws_reference"}


def _run_time_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:`` (the types-boto3 stubs: read by mypy, never imported)."""
    nodes: list[ast.AST] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))
    return nodes


def third_party_imports() -> set[str]:
    modules: set[str] = set()
    for path in (ROOT / "tools").rglob("*.py"):
        for node in _run_time_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    return {m for m in modules - FIRST_PARTY - {"__future__"} if m not in sys.stdlib_module_names}


def test_the_cli_extra_and_the_dependencies_cover_every_import_of_the_tools() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {
        Requirement(r).name.lower().replace("_", "-")
        for r in project["dependencies"]
        + project["optional-dependencies"]["cli"]
        # `simulate --plot` imports matplotlib only when asked, from its own optional extra
        + project["optional-dependencies"]["plot"]
    }
    distributions = packages_distributions()
    for module in sorted(third_party_imports()):
        names = {d.lower().replace("_", "-") for d in distributions.get(module, [])}
        assert names & declared, f"{module} (from {names or 'no installed distribution'}) is not a dependency"
