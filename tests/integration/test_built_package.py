"""The built package, as Lambda loads it: the function's code (/var/task) before the dependencies layer
(/opt/python). Both are built by functions/Makefile's own targets, then every handler is imported and every
client the functions create is made from them alone, in a fresh interpreter that sees nothing else (-S: no
site-packages). Offline: the layer's `pip install` is replaced by a copy of the same pinned distributions from
this environment (the install itself needs a package index; `make build` runs it), every later step of the
layer's target runs as written."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

import pytest

from tests.conftest import ROOT

FUNCTIONS_DIR = ROOT / "functions"
sys.path.insert(0, str(FUNCTIONS_DIR))
from prune_botocore_data import KEEP  # noqa: E402

HANDLERS = ["router", "supervision", "affinity", "sweep", "flow"]
FUNCTION_TARGETS = ["RouterFunction", "SupervisionFunction", "AffinityFunction", "SweepFunction", "FlowFunction"]
ENV = {
    "CONNECT_INSTANCE_ARN": "arn:aws:connect:eu-west-2:123456789012:instance/11111111-2222-4333-8444-555555555555",
    "AWS_DEFAULT_REGION": "eu-west-2",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "IDEMPOTENCY_TABLE": "contact-router-idempotency",
    "DEAD_LETTER_QUEUE_URL": "https://sqs.eu-west-2.amazonaws.com/123456789012/contact-router-dlq",
    "ROUTER_QUEUE_URL": "https://sqs.eu-west-2.amazonaws.com/123456789012/contact-router-events",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "ContactRouter",
}


def requirement_names() -> list[str]:
    text = (FUNCTIONS_DIR / "requirements.txt").read_text(encoding="utf-8")
    return [line.split("==")[0].strip() for line in text.splitlines() if "==" in line and not line.startswith("#")]


def install_from_this_environment(target: Path) -> None:
    """What ``pip install --no-deps --target`` would put there, for each pinned distribution: its files as
    installed here (same versions: requirements/dev.txt is resolved with requirements/lambda.txt)."""
    for name in requirement_names():
        dist = distribution(name)
        base = Path(str(dist.locate_file("")))
        for file in dist.files or []:
            source = Path(str(dist.locate_file(file))).resolve()
            if "__pycache__" in file.parts or not source.is_relative_to(base.resolve()) or not source.is_file():
                continue
            destination = target / file
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)


def make(target: str, artifacts: Path, *, dry_run: bool = False) -> str:
    command = ["make", "--no-print-directory", "-C", str(FUNCTIONS_DIR), target, f"ARTIFACTS_DIR={artifacts}"]
    command += [f"PYTHON={sys.executable}"] + (["-n"] if dry_run else [])
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The layer (its python/ folder) and each function's artifact folder."""
    root = tmp_path_factory.mktemp("build")
    layer = root / "DependenciesLayer"
    # Given the layer's target, its install replaced by the offline copy and every other step run as written
    steps = make("build-DependenciesLayer", layer, dry_run=True).splitlines()
    assert "pip install" in steps[0]
    install_from_this_environment(layer / "python")
    for step in steps[1:]:
        subprocess.run(["bash", "-c", step], cwd=FUNCTIONS_DIR, check=True, capture_output=True)
    paths = {"layer": layer / "python"}
    # And each function's target, run as sam build runs it
    for function in FUNCTION_TARGETS:
        (root / function).mkdir()
        make(f"build-{function}", root / function)
        paths[function] = root / function
    return paths


def run_isolated(code: str, function: Path, layer: Path) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter whose only third-party code is the function's folder and the layer."""
    return subprocess.run(
        [sys.executable, "-S", "-c", code],
        env={**ENV, "PYTHONPATH": f"{function}:{layer}", "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=False,
        cwd=function,
    )


def test_functions_carry_only_their_code_and_the_layer_the_dependencies(built: dict[str, Path]) -> None:
    # Then a function's folder is contact_router and nothing else, with its bytecode
    for function in FUNCTION_TARGETS:
        assert sorted(p.name for p in built[function].iterdir()) == ["contact_router"], function
        assert list((built[function] / "contact_router" / "handlers" / "__pycache__").glob("router.*.pyc"))
    # And the layer holds every pinned distribution, compiled, and no contact_router
    layer = built["layer"]
    assert not (layer / "contact_router").exists()
    assert list((layer / "botocore" / "__pycache__").glob("client.*.pyc"))
    assert {p.name for p in (layer / "botocore" / "data").iterdir() if p.is_dir()} == set(KEEP)
    for name in ("endpoints.json", "partitions.json", "_retry.json", "sdk-default-configuration.json"):
        assert (layer / "botocore" / "data" / name).is_file(), name


@pytest.mark.parametrize(("function", "handler"), list(zip(FUNCTION_TARGETS, HANDLERS, strict=True)))
def test_every_handler_imports_from_its_function_and_the_layer_alone(
    built: dict[str, Path], function: str, handler: str
) -> None:
    # Given the function's folder and the layer / When its handler module is imported in a bare interpreter
    code = (
        f"import contact_router.handlers.{handler} as h, botocore, pydantic, aws_lambda_powertools, json; "
        "print(json.dumps([h.__file__, botocore.__file__, pydantic.__file__, callable(h.lambda_handler)]))"
    )
    result = run_isolated(code, built[function], built["layer"])
    # Then it loads, its code from the function's folder and its dependencies from the layer
    assert result.returncode == 0, result.stderr
    handler_file, botocore_file, pydantic_file, has_handler = json.loads(result.stdout)
    assert handler_file.startswith(str(built[function]))
    assert botocore_file.startswith(str(built["layer"]))
    assert pydantic_file.startswith(str(built["layer"]))
    assert has_handler


def test_the_router_builds_its_app_from_the_built_package(built: dict[str, Path]) -> None:
    # Given the router's package / When the first invocation's app is built (clients, bundled rules; no call made)
    code = "import contact_router.handlers.router as h; app = h.default_app(); print(type(app).__name__)"
    result = run_isolated(code, built["RouterFunction"], built["layer"])
    # Then it is built
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "RecordPolicy"


def test_every_kept_service_makes_a_client_from_the_pruned_models(built: dict[str, Path]) -> None:
    # Given the layer's pruned botocore / When a client of every kept service is created (offline: no call)
    code = (
        "import json, botocore.session; s = botocore.session.get_session(); "
        f"names = {sorted(KEEP)!r}; "
        "made = [s.create_client(n, region_name='eu-west-2').meta.service_model.service_name for n in names]; "
        "print(json.dumps(made))"
    )
    result = run_isolated(code, built["RouterFunction"], built["layer"])
    # Then each is made from its model
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == len(KEEP)
    # And a service whose model was removed cannot be made (the pruning is real)
    code = "import botocore.session; botocore.session.get_session().create_client('s3', region_name='eu-west-2')"
    result = run_isolated(code, built["RouterFunction"], built["layer"])
    assert result.returncode != 0
    assert "UnknownServiceError" in result.stderr


def clients_the_code_creates() -> set[str]:
    """Every service the functions' code names a client for: ``clients.<service>`` and
    ``clients.given.get("<service>")``, ``clients.lazy_<service>()`` (adapters/aws.Clients, "_" read as "-"), and
    ``client("<service>"...)``."""
    names: set[str] = set()
    for path in (FUNCTIONS_DIR / "contact_router").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        names |= {m.replace("_", "-") for m in re.findall(r"\bclients\.([a-z][a-z_]*)\b(?!\()", text)}
        names |= set(re.findall(r"\bclients\.given\.get\(\"([a-z-]+)\"\)", text))
        names |= set(re.findall(r"\bclients\.lazy_([a-z]+)\(", text))
        names |= set(re.findall(r"\bclient\(\"([a-z-]+)\"", text))
    return {n for n in names if not n.startswith("lazy-")} - {"given", "for-region", "get"}


def test_the_keep_list_covers_every_client_the_functions_create() -> None:
    # Given the services named in the functions' code (and Powertools' own clients for the rules sources)
    created = clients_the_code_creates() | {"ssm", "appconfigdata"}
    # Then the layer keeps each one's model
    assert {"connect", "dynamodb", "sqs", "customer-profiles", "secretsmanager"} <= created
    assert created <= KEEP, sorted(created - KEEP)
