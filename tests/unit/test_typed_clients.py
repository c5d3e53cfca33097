"""The boto3 clients are typed by the types-boto3 stubs (``make types`` checks every call against them), and the
deployed package never needs the stubs at run time.

mypy cannot say "this parameter must not be Any", so this test reads the annotations the way mypy does (the
``if TYPE_CHECKING:`` imports included) and fails when a client parameter, or a ``Clients`` attribute, is not a
stub's client class.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from botocore.client import BaseClient

from contact_router.adapters import aws

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("contact_router.adapters", "contact_router_cli")
# Parameter names that hold a boto3 client (``client``, ``*_client``, or the service's own name).
CLIENT_NAMES = {"sqs", "dynamodb", "secretsmanager", "ssm", "appconfigdata", "cloudformation", "lambda_"}


def _is_client_name(name: str) -> bool:
    return name == "client" or name.endswith("_client") or name in CLIENT_NAMES


def _namespace(module: types.ModuleType) -> dict[str, object]:
    """The module's globals plus what its ``if TYPE_CHECKING:`` block imports: the names mypy sees."""
    namespace = dict(vars(module))
    tree = ast.parse(Path(str(module.__file__)).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            exec(compile(ast.Module(body=node.body, type_ignores=[]), module.__name__, "exec"), namespace)
    return namespace


def _modules() -> Iterator[types.ModuleType]:
    for name in SCANNED:
        package = importlib.import_module(name)
        yield package
        for info in pkgutil.walk_packages(package.__path__, f"{name}."):
            if not info.name.endswith(".__main__"):  # importing it runs the command line
                yield importlib.import_module(info.name)


def _callables(module: types.ModuleType) -> Iterator[tuple[str, Callable[..., object]]]:
    for name, value in vars(module).items():
        if inspect.isfunction(value) and value.__module__ == module.__name__:
            yield name, value
        elif inspect.isclass(value) and value.__module__ == module.__name__:
            for attr, member in vars(value).items():
                if inspect.isfunction(member):
                    yield f"{name}.{attr}", member


def _unwrap_optional(hint: object) -> object:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 1:
        return args[0]
    return hint


def _is_stub_client(hint: object) -> bool:
    hint = _unwrap_optional(hint)
    return (
        inspect.isclass(hint)
        and issubclass(hint, BaseClient)
        and (hint.__module__.startswith("types_boto3_") or hint is BaseClient)
    )


def _typed_dict_hints(typed_dict: type, namespace: dict[str, object]) -> dict[str, object]:
    """A TypedDict's hints resolved in ``namespace`` (get_type_hints resolves them in the module's globals only)."""
    return {
        key: eval(value.__forward_arg__ if isinstance(value, typing.ForwardRef) else value, namespace)
        for key, value in typed_dict.__annotations__.items()
    }


def _client_parameters() -> list[tuple[str, str, object]]:
    found = []
    for module in _modules():
        namespace = _namespace(module)
        for qualname, function in _callables(module):
            wanted = [p for p in inspect.signature(function).parameters if _is_client_name(p)]
            if not wanted:
                continue
            hints = typing.get_type_hints(function, globalns=namespace)
            for parameter in wanted:
                found.append(
                    (f"{module.__name__}.{qualname}", parameter, hints.get(parameter, inspect.Parameter.empty))
                )
    return found


def test_every_client_parameter_of_the_adapters_and_the_cli_is_a_stub_client() -> None:
    # GIVEN every function and method of the adapters and the CLI that takes a client
    found = _client_parameters()
    # THEN the scan saw the known ones (it cannot pass by finding nothing) and each is a types-boto3 client class
    where = {(name, parameter) for name, parameter, _ in found}
    assert {
        ("contact_router.adapters.connect.ConnectGateway.__init__", "client"),
        ("contact_router.adapters.affinity_store.AffinityStore.__init__", "dynamodb_client"),
        ("contact_router.adapters.rules_store.remote_fetcher", "appconfig_client"),
        ("contact_router.adapters.secrets.secret_loader", "secretsmanager_client"),
        ("contact_router_cli.dlq.redrive", "sqs"),
        ("contact_router_cli.explain.function_environment", "lambda_client"),
    } <= where
    untyped = [(name, parameter, hint) for name, parameter, hint in found if not _is_stub_client(hint)]
    assert untyped == []


@pytest.mark.parametrize(
    "name", ["connect", "dynamodb", "sqs", "secretsmanager", "customer_profiles", "ssm", "appconfigdata"]
)
def test_each_clients_attribute_is_typed_by_the_stub_of_the_service_it_makes(name: str) -> None:
    # GIVEN the typed attribute of Clients and the client it makes (made offline: no request is sent)
    hint = typing.get_type_hints(getattr(aws.Clients, name).fget, globalns=_namespace(aws))["return"]
    made = getattr(aws.Clients(region="eu-west-2"), name)
    # THEN the hint is the stub class of exactly that service, and the handed-in map types it the same way
    service = made.meta.service_model.service_name.replace("-", "_")
    assert inspect.isclass(hint)
    assert hint.__module__.split(".")[0] == f"types_boto3_{service}"
    assert _typed_dict_hints(aws.ClientMap, _namespace(aws))[name] is hint
    assert typing.get_type_hints(aws.Clients.__init__, globalns=_namespace(aws))[name] == hint | None


def test_the_preflight_clients_are_stub_clients_except_the_policy_simulator() -> None:
    from contact_router_cli import preflight

    hints = typing.get_type_hints(preflight.Clients, globalns=_namespace(preflight))
    clients = {name: hint for name, hint in hints.items() if name not in ("region", "simulator")}
    assert len(clients) == 7
    assert [name for name, hint in clients.items() if not _is_stub_client(hint)] == []


def test_an_unknown_client_name_is_refused() -> None:
    with pytest.raises(TypeError):
        aws.Clients(conect=object())  # type: ignore[call-arg]


def test_the_deployed_package_imports_without_the_stubs() -> None:
    # GIVEN an interpreter where no types_boto3 module can be imported (as in the Lambda package)
    script = """
import importlib, pkgutil, sys

class NoStubs:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0].startswith(("types_boto3", "mypy_boto3")):
            raise ImportError(f"{name} is for type checking only")
        return None

sys.meta_path.insert(0, NoStubs())
import contact_router
names = [info.name for info in pkgutil.walk_packages(contact_router.__path__, "contact_router.")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""
    # WHEN every module of the deployed package is imported
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT / "functions", capture_output=True, text=True, check=False
    )
    # THEN all import
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) > 20
