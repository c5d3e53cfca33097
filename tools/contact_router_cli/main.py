"""``contact-router``: run the local pipeline, replay events, validate rules, explain a decision."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import click

from contact_router.adapters import aws
from contact_router.adapters.connect import ConnectGateway
from contact_router.config import Settings
from contact_router.errors import ConfigurationError
from contact_router.models.decision import Outcome
from contact_router_cli import render
from contact_router_cli.errors import OperatorError, OperatorErrors, aws_message
from contact_router_cli.rules_publish import DEFAULT_STRATEGY, PREDEFINED_STRATEGIES

if TYPE_CHECKING:
    from types_boto3_lambda import LambdaClient
    from types_boto3_sqs import SQSClient

    from contact_router.adapters.affinity_store import AffinityStore

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_WORLD = REPO_ROOT / "samples" / "world.yaml"
SAMPLE_RULES = REPO_ROOT / "samples" / "rules.yaml"
SAMPLE_OWNERS = REPO_ROOT / "samples" / "owners.csv"
EVENTS_DIR = REPO_ROOT / "events"
DEFAULT_LOG = REPO_ROOT / "out" / "local-run.jsonl"

existing_file = click.Path(exists=True, dir_okay=False, path_type=Path)
region_option = click.option("--region", help="AWS Region (default: your AWS configuration).")


@click.group(cls=OperatorErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="contact-router")
def main() -> None:
    """Route queued Amazon Connect contacts to preferred agents: local tools.

    Expected failures (no credentials or Region, an unknown contact, a missing table or queue, throttling,
    access denied) print one line saying what to do and exit with status 2.
    """


# ------------------------------------------------------------------------------------------------- run
@main.command()
@click.option("--world", type=existing_file, default=SAMPLE_WORLD, show_default=True, help="Emulated instance.")
@click.option("--rules", type=existing_file, default=SAMPLE_RULES, show_default=True, help="Rules file.")
@click.option(
    "--events",
    "events_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=EVENTS_DIR,
    show_default=True,
    help="Folder of EventBridge event JSON files.",
)
@click.option(
    "--owners",
    "owners_path",
    type=existing_file,
    default=SAMPLE_OWNERS,
    show_default=True,
    help="Account owners CSV imported before the run.",
)
@click.option("--dry-run", is_flag=True, help="Decide everything, associate nothing.")
@click.option("--route-voice", is_flag=True, help="Route VOICE contacts too.")
@click.option(
    "--log",
    "log_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_LOG,
    show_default=True,
    help="Where the Lambda's JSON logs and metrics go.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the decision records as JSON instead of tables.")
def run(
    world: Path,
    rules: Path,
    events_dir: Path,
    owners_path: Path,
    dry_run: bool,
    route_voice: bool,
    log_path: Path,
    as_json: bool,
) -> None:
    """The local pipeline with sample data: events -> SQS -> the Lambda handlers -> emulated Connect."""
    events = sorted(events_dir.glob("*.json"))
    if not events:
        raise click.ClickException(f"no *.json events in {events_dir}")
    _run_and_print(world, rules, events, dry_run, route_voice, log_path, owners_path, as_json=as_json)


@main.command()
@click.option("--world", type=existing_file, required=True, help="World file of the emulated instance.")
@click.option("--rules", type=existing_file, required=True, help="Rules file.")
@click.option("--dry-run", is_flag=True, help="Decide everything, associate nothing.")
@click.option("--route-voice", is_flag=True, help="Route VOICE contacts too.")
@click.option(
    "--log", "log_path", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_LOG, show_default=True
)
@click.option("--json", "as_json", is_flag=True, help="Print the decision records as JSON instead of tables.")
@click.argument("events", nargs=-1, required=True, type=existing_file)
def replay(
    world: Path,
    rules: Path,
    dry_run: bool,
    route_voice: bool,
    log_path: Path,
    as_json: bool,
    events: tuple[Path, ...],
) -> None:
    """Replay EVENT files (EventBridge JSON, in the given order) through the router on an emulated world."""
    _run_and_print(world, rules, list(events), dry_run, route_voice, log_path, as_json=as_json)


def _run_and_print(
    world: Path,
    rules: Path,
    events: list[Path],
    dry_run: bool,
    route_voice: bool,
    log: Path,
    owners_path: Path | None = None,
    *,
    as_json: bool = False,
) -> None:
    from contact_router_cli.local import run_pipeline

    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        with log.open("w", encoding="utf-8") as stream:
            result = run_pipeline(
                world,
                rules,
                events,
                log_stream=stream,
                dry_run=dry_run,
                route_voice=route_voice,
                owners_path=owners_path,
            )
    except ConfigurationError as exc:
        raise click.ClickException("\n".join(exc.problems)) from exc
    everything = [d for _, d in result.decisions] + [d for _, d in result.supervision] + [d for _, d in result.affinity]
    failed = [d for d in everything if d.outcome.value == Outcome.FAILED.value]
    if as_json:
        click.echo(json.dumps(render.run_json(result, rules, log), indent=2))
    else:
        _print_run(result, rules, dry_run, log, owners_path)
    if failed:
        raise click.ClickException(f"{len(failed)} contact(s) still failing after retries; see {log}")


def _relative(path: Path) -> Path:
    """The path as the user would type it from here (the README's sample output is machine-independent)."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def _print_run(result: Any, rules: Path, dry_run: bool, log: Path, owners_path: Path | None) -> None:
    out = render.console()

    usernames = {u.id: u.username for u in result.emulator.world.users}

    def name(user_id: str | None) -> str | None:
        return usernames.get(user_id or "")

    mode = " (dry run)" if dry_run else ""
    if result.owners is not None:
        shown = _relative(owners_path) if owners_path else owners_path
        out.print(f"owners: {shown}: {result.owners.stored} stored, {len(result.owners.bad)} bad row(s)")
    if result.affinity:
        out.print(render.affinity_table(result.affinity, name, "affinity: connected contacts recorded first"))
    out.print(render.decisions_table(result.decisions, name, f"routing decisions{mode} — rules: {rules.name}"))
    if result.supervision:
        out.print(render.supervision_table(result.supervision, name, f"supervision decisions{mode}"))
    for letter in result.dead_letters:
        out.print(f"[red]dead-letter queue[/red]: {letter.source}: {letter.reason}: {letter.error}")
    everything = [d for _, d in result.decisions] + [d for _, d in result.supervision] + [d for _, d in result.affinity]
    out.print(render.summary_table(everything, result.api_calls, len(result.dead_letters)))
    out.print(f"Lambda logs and metrics: {_relative(log)}")


# ----------------------------------------------------------------------------------------------- rules
@main.group()
def rules() -> None:
    """Rules files: validate them, print their JSON Schema, publish them to SSM or AppConfig, roll back."""


@rules.command("validate")
@click.option(
    "--allow-barge/--forbid-barge",
    default=None,
    help="Also check against a deployment's AllowBarge setting (default: not checked).",
)
@click.option(
    "--instance",
    help="Also check that the users, queues and hierarchy groups the rules name exist: a world file (emulator) "
    "or an instance ARN (read-only, your AWS credentials).",
)
@click.option("--strict", is_flag=True, help="Warnings fail the validation too (exit 1).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.argument("files", nargs=-1, required=True, type=existing_file)
def rules_validate(
    allow_barge: bool | None, instance: str | None, strict: bool, as_json: bool, files: tuple[Path, ...]
) -> None:
    """Validate rules FILES; every problem names the rule and the field.

    Warnings (the rules still load): rules shadowed by an earlier rule or unreachable after a catch-all
    (docs/rules.md, "Shadowed and unreachable rules") and, with --instance, names the instance lacks.
    """
    from contact_router.rules.loader import RulesError, check_deployment, load_rules_file
    from contact_router_cli.rules_check import missing_names, reachability

    directory = _directory(instance) if instance else None
    reports: list[dict[str, Any]] = []
    for path in files:
        report: dict[str, Any] = {"file": str(path), "ok": False, "errors": [], "warnings": []}
        reports.append(report)
        try:
            loaded = load_rules_file(path)
            if allow_barge is not None:
                check_deployment(loaded, str(path), allow_barge=allow_barge)
        except RulesError as exc:
            report["errors"] = list(exc.problems)
            continue
        findings = reachability(loaded)
        if directory is not None:
            findings += missing_names(loaded, directory, instance or "")
        report.update(
            ok=True,
            routing=[{"name": r.name, "enabled": r.enabled} for r in loaded.routing],
            supervision=[{"name": r.name, "enabled": r.enabled} for r in loaded.supervision],
            warnings=[{**f.to_json(), "text": f.line(str(path))} for f in findings],
        )
    failed = any(r["errors"] for r in reports) or (strict and any(r["warnings"] for r in reports))
    if as_json:
        click.echo(json.dumps(reports, indent=2))
    else:
        for report in reports:
            _print_validation(report)
    if failed:
        raise SystemExit(1)


def _print_validation(report: dict[str, Any]) -> None:
    for problem in report["errors"]:
        click.echo(f"error: {problem}", err=True)
    if not report["ok"]:
        return

    def names(rules: list[dict[str, Any]]) -> str:
        return ", ".join(r["name"] + ("" if r["enabled"] else " (disabled)") for r in rules)

    path = report["file"]
    if not report["routing"] and not report["supervision"]:
        click.echo(f"{path}: OK, no rules (allow_empty: true): nothing is routed or monitored")
        return
    click.echo(f"{path}: OK, {len(report['routing'])} routing rule(s): {names(report['routing'])}")
    if report["supervision"]:
        click.echo(f"{path}: OK, {len(report['supervision'])} supervision rule(s): {names(report['supervision'])}")
    for warning in report["warnings"]:
        click.echo(f"warning: {warning['text']}", err=True)


def _directory(instance: str) -> Any:
    """The names of an instance: a world file's, or a real instance's (read-only)."""
    from contact_router_cli.rules_check import ConnectDirectory, WorldDirectory

    if instance.startswith("arn:"):
        settings = Settings.for_instance(instance)
        client = aws.Clients(settings.region).connect
        return ConnectDirectory(ConnectGateway(client, settings.instance_id), client, settings.instance_id)
    path = Path(instance)
    if not path.is_file():
        raise click.BadParameter("not an instance ARN nor a world file", param_hint="--instance")
    from connect_emulator import World

    return WorldDirectory(World.from_file(path))


@rules.command("schema")
def rules_schema() -> None:
    """Print the JSON Schema of the rules file (what schemas/rules.schema.json holds)."""
    from contact_router.rules.model import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


ssm_parameter_option = click.option(
    "--ssm-parameter", metavar="NAME", help="The SSM parameter holding the rules (RulesSsmParameterName)."
)
appconfig_option = click.option(
    "--appconfig",
    metavar="APP/ENV/PROFILE",
    help="The AppConfig application, environment and hosted profile IDs (RulesAppConfig* parameters).",
)
strategy_option = click.option(
    "--deployment-strategy",
    default=DEFAULT_STRATEGY,
    show_default=True,
    help=f"AppConfig deployment strategy ID: {', '.join(PREDEFINED_STRATEGIES)} or one of your own.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def _rules_target(ssm_parameter: str | None, appconfig: str | None, region: str | None) -> Any:
    from contact_router_cli import rules_publish

    if bool(ssm_parameter) == bool(appconfig):
        raise OperatorError("give exactly one of --ssm-parameter NAME or --appconfig APP/ENV/PROFILE")
    try:
        if ssm_parameter:
            return rules_publish.SsmTarget(rules_publish.client("ssm", region), ssm_parameter)
        application, environment, profile = rules_publish.parse_appconfig(appconfig or "")
    except rules_publish.PublishError as exc:
        raise OperatorError(str(exc)) from exc
    return rules_publish.AppConfigTarget(rules_publish.client("appconfig", region), application, environment, profile)


def _print_published(result: dict[str, Any], as_json: bool) -> None:
    from contact_router_cli.rules_publish import describe

    click.echo(json.dumps(result, indent=2) if as_json else describe(result))


@rules.command("publish")
@ssm_parameter_option
@appconfig_option
@strategy_option
@click.option("--no-deploy", is_flag=True, help="AppConfig: create the hosted version only, deploy nothing.")
@region_option
@json_option
@click.argument("file", type=existing_file)
def rules_publish_command(
    ssm_parameter: str | None,
    appconfig: str | None,
    deployment_strategy: str,
    no_deploy: bool,
    region: str | None,
    as_json: bool,
    file: Path,
) -> None:
    """Validate FILE as the router will, then write it to SSM or AppConfig (and deploy it).

    SSM: a new parameter version (PutParameter). AppConfig: a new hosted configuration version, then a
    deployment with --deployment-strategy. A file the router would refuse is not published (exit 2). Prints the
    rules_version every decision record will carry.
    """
    from contact_router_cli.rules_publish import MAX_FILE_BYTES, PublishError

    target = _rules_target(ssm_parameter, appconfig, region)
    if file.stat().st_size > MAX_FILE_BYTES:
        raise OperatorError(f"{file}: {file.stat().st_size} bytes, more than the router accepts")
    try:
        if ssm_parameter:
            result = target.publish(file.read_bytes(), str(file))
        else:
            result = target.publish(file.read_bytes(), str(file), deployment_strategy, deploy=not no_deploy)
    except PublishError as exc:
        raise OperatorError(str(exc)) from exc
    _print_published(result, as_json)


@rules.command("rollback")
@ssm_parameter_option
@appconfig_option
@strategy_option
@click.option("--to-version", type=click.IntRange(min=1), help="Restore this version instead of the previous one.")
@region_option
@json_option
def rules_rollback(
    ssm_parameter: str | None,
    appconfig: str | None,
    deployment_strategy: str,
    to_version: int | None,
    region: str | None,
    as_json: bool,
) -> None:
    """Put the previous rules back (validated first, as publish does).

    SSM: the value of the version before the newest is written again, as a new version (running it twice undoes
    the rollback). AppConfig: a deployment still in progress is stopped (AppConfig restores the previous
    version); otherwise the version deployed before the current one is deployed again.
    """
    from contact_router_cli.rules_publish import PublishError

    target = _rules_target(ssm_parameter, appconfig, region)
    try:
        result = target.rollback(to_version) if ssm_parameter else target.rollback(deployment_strategy, to_version)
    except PublishError as exc:
        raise OperatorError(str(exc)) from exc
    _print_published(result, as_json)


# --------------------------------------------------------------------------------------------- explain
@main.command()
@click.option("--contact-id", required=True, help="The contact to explain.")
@click.option("--world", type=existing_file, help="Explain against an emulated instance seeded from this world.")
@click.option("--instance-arn", help="Explain against a real instance, with your AWS credentials (read-only).")
@click.option(
    "--env-from-function",
    "function_name",
    help="Use a deployed router function's settings (its environment: rules source, affinity table, ...).",
)
@click.option(
    "--env",
    "env_pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A router setting by its environment variable (e.g. AFFINITY_TABLE=...); repeatable.",
)
@click.option("--rules", "rules_path", type=existing_file, help="Rules file (default: the deployed or bundled rules).")
@click.option("--json", "as_json", is_flag=True, help="Print the trace and decision record as JSON.")
def explain(
    contact_id: str,
    world: Path | None,
    instance_arn: str | None,
    function_name: str | None,
    env_pairs: tuple[str, ...],
    rules_path: Path | None,
    as_json: bool,
) -> None:
    """Read-only decision trace: what the router would decide for this contact now, and why.

    It runs the router's own code with the deployed settings (rules from file, SSM or AppConfig, affinity
    table, wait fallbacks) in a read-only mode: it never associates, sets routing criteria, sends re-checks
    or writes the idempotency table.
    """
    from contact_router.adapters.aws import Clients
    from contact_router_cli.explain import explain_contact, function_environment

    if bool(world) + bool(instance_arn) + bool(function_name) != 1 and not (function_name and instance_arn):
        raise click.UsageError(
            "give exactly one of --world (emulator), --instance-arn (real instance) or --env-from-function"
        )
    env: dict[str, str] = {}
    if function_name:
        env.update(function_environment(function_name, cast("LambdaClient", aws.client("lambda"))))
    for pair in env_pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise click.UsageError(f"--env {pair!r}: expected NAME=VALUE")
        env[name.strip()] = value
    if rules_path:
        env.update(RULES_SOURCE="file", RULES_FILE=str(rules_path))
    names: dict[str, str] = {}
    clients = Clients()
    if world is not None:
        from connect_emulator import ConnectEmulator, World

        emu = ConnectEmulator(World.from_file(world))
        env["CONNECT_INSTANCE_ARN"] = emu.instance_arn
        clients = Clients(connect=emu.client())
        names = {u.id: u.username for u in emu.world.users}
    elif instance_arn:
        env["CONNECT_INSTANCE_ARN"] = instance_arn
    try:
        trace = explain_contact(
            contact_id,
            settings=Settings.from_env(env),
            clients=clients,
            out=render.console(),
            as_json=as_json,
            names=names,
        )
    except ConfigurationError as exc:
        raise click.ClickException("\n".join(exc.problems)) from exc
    if trace is not None:
        click.echo(json.dumps(trace, indent=2))


# --------------------------------------------------------------------------------------------- monitor
@main.command()
@click.option("--contact-id", required=True, help="The connected contact to monitor.")
@click.option("--supervisor", required=True, help="Supervisor: user id, user ARN or username.")
@click.option("--barge", is_flag=True, help="Allow barging in (adds BARGE to SILENT_MONITOR).")
@click.option("--capability", "capabilities", multiple=True, help="Explicit capabilities (SILENT_MONITOR, BARGE).")
@click.option("--world", type=existing_file, help="Against an emulated instance seeded from this world.")
@click.option("--instance-arn", help="Against a real instance, with your AWS credentials.")
def monitor(
    contact_id: str,
    supervisor: str,
    barge: bool,
    capabilities: tuple[str, ...],
    world: Path | None,
    instance_arn: str | None,
) -> None:
    """Start monitoring CONTACT for a supervisor now; prints the monitoring contact id.

    The request is validated before any API call; its ClientToken is derived from the contact, the
    supervisor and the capabilities, so running the same command twice opens one session.
    """
    from contact_router_cli.monitor import MonitorError, capabilities_of, start_monitoring

    if bool(world) == bool(instance_arn):
        raise click.UsageError("give exactly one of --world (emulator) or --instance-arn (real instance)")
    try:
        user_id, monitoring_id = start_monitoring(
            contact_id, supervisor, capabilities_of(capabilities, barge), world=world, instance_arn=instance_arn
        )
    except MonitorError as exc:
        aws_failure = aws_message(exc)  # no credentials, access denied...: one line, exit 2, like every command
        raise (OperatorError(aws_failure) if aws_failure else click.ClickException(str(exc))) from exc
    click.echo(f"monitoring contact {monitoring_id} (supervisor {user_id}, contact {contact_id})")


# ---------------------------------------------------------------------------------------------- owners
@main.group()
def owners() -> None:
    """Account owners: customer key -> owner user, stored as keyed hashes in the affinity table."""


table_option = click.option("--table", required=True, help="The affinity table (stack output AffinityTableName).")
secret_option = click.option(
    "--secret-arn", required=True, help="The customer-key secret (stack output CustomerKeySecretArn)."
)


def _phone_region(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    from contact_router.customers.keys import is_supported_region

    region = (value or "").strip().upper() or None
    if region is not None and not is_supported_region(region):
        raise OperatorError(
            f"--phone-region must be an ISO 3166-1 alpha-2 country code such as GB or US, got {value!r}"
        )
    return region


phone_region_option = click.option(
    "--phone-region",
    envvar="PHONE_DEFAULT_REGION",
    show_envvar=True,
    callback=_phone_region,
    help="Read phone numbers written without a country code (020 7946 0000) as numbers of this country "
    "(e.g. GB). Use the router's PHONE_DEFAULT_REGION (the default), or its keys will not match. Without one, "
    "such a number is a bad line.",
)


@owners.command("import")
@table_option
@secret_option
@region_option
@click.option("--instance-arn", required=True, help="The Connect instance whose users own the customers.")
@phone_region_option
@click.argument("csv_file", type=existing_file)
def owners_import(
    table: str, secret_arn: str, region: str | None, instance_arn: str, phone_region: str | None, csv_file: Path
) -> None:
    """Load CSV_FILE (key_type,key,owner) into the affinity table.

    The whole file is checked first: if any line is bad, each is reported with its number and nothing is
    written (exit 2). Safe to rerun: rows already stored are skipped, so an interrupted import resumes.
    """
    from contact_router.errors import ContactRouterError
    from contact_router_cli.owners import OwnerResolver, OwnersWriteError, import_owners

    store, secret = _owner_store(table, secret_arn, region)
    settings = Settings.for_instance(instance_arn)
    connect = ConnectGateway(aws.Clients(settings.region).connect, settings.instance_id)
    resolver = OwnerResolver(connect, settings.instance_arn)
    try:
        with _progress() as progress:
            report = import_owners(csv_file, store, secret, resolver, progress, phone_region)
    except OSError as exc:
        raise OperatorError(f"{csv_file}: cannot read the file: {exc.strerror or exc}") from exc
    except OwnersWriteError as exc:
        done = exc.report
        raise OperatorError(
            f"{csv_file}: writing stopped after line {done.last_line} ({done.stored} stored, {done.unchanged} "
            f"unchanged): {aws_message(exc) or exc}; run the same command again to resume"
        ) from exc
    except ContactRouterError as exc:
        why = aws_message(exc) or exc.message
        raise OperatorError(f"{csv_file}: cannot check the owners: {why}; nothing was written") from exc
    if report.bad:
        _refuse(csv_file, report.bad, report.rows)
    click.echo(f"{csv_file}: {report.rows} row(s): {report.stored} stored, {report.unchanged} unchanged")


@owners.command("export")
@table_option
@region_option
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file (default: stdout).")
def owners_export(table: str, region: str | None, output: Path | None) -> None:
    """Every owner mapping as CSV: key_hash,key_type,owner_id (keys are hashes: addresses are never stored)."""
    from contact_router.adapters.affinity_store import AffinityStore
    from contact_router_cli.owners import export_owners

    text = export_owners(AffinityStore(table, aws.Clients(region).dynamodb))
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"{output}: {text.count(chr(10)) - 1} owner mapping(s)")
    else:
        click.echo(text, nl=False)


@owners.command("delete")
@table_option
@secret_option
@region_option
@phone_region_option
@click.argument("csv_file", type=existing_file)
def owners_delete(table: str, secret_arn: str, region: str | None, phone_region: str | None, csv_file: Path) -> None:
    """Delete the owner mappings of the customer keys in CSV_FILE (same format; the owner column is ignored).

    Checked first like an import: if any line is bad, nothing is deleted (exit 2).
    """
    from contact_router.errors import ContactRouterError
    from contact_router_cli.owners import delete_owners

    store, secret = _owner_store(table, secret_arn, region)
    try:
        with _progress() as progress:
            deleted, missing, bad = delete_owners(csv_file, store, secret, progress, phone_region)
    except OSError as exc:
        raise OperatorError(f"{csv_file}: cannot read the file: {exc.strerror or exc}") from exc
    except ContactRouterError as exc:
        why = aws_message(exc) or exc.message
        raise OperatorError(f"{csv_file}: deleting stopped: {why}; run it again to finish") from exc
    if bad:
        _refuse(csv_file, bad, None)
    click.echo(f"{csv_file}: {deleted} deleted, {missing} not found")


def _owner_store(table: str, secret_arn: str, region: str | None) -> tuple[AffinityStore, bytes]:
    from contact_router.adapters.affinity_store import AffinityStore
    from contact_router.adapters.secrets import secret_loader

    # A secret that cannot be read is an operator's mistake: the group's handler gives it one line.
    clients = aws.Clients(region)
    secret = secret_loader(secret_arn, clients.secretsmanager)()
    return AffinityStore(table, clients.dynamodb), secret


MAX_REPORTED_LINES = 100


def _refuse(csv_file: Path, bad: list[tuple[int, str]], rows: int | None) -> None:
    """One line per bad line (the first MAX_REPORTED_LINES), a summary, exit 2: nothing was written."""
    for line, reason in bad[:MAX_REPORTED_LINES]:
        click.echo(f"error: {csv_file}:{line}: {reason}", err=True)
    if len(bad) > MAX_REPORTED_LINES:
        click.echo(f"error: {csv_file}: ... and {len(bad) - MAX_REPORTED_LINES} more bad line(s)", err=True)
    among = f" among {rows} row(s)" if rows is not None else ""
    click.echo(f"{csv_file}: {len(bad)} bad line(s){among}; nothing was written (fix them and run again)", err=True)
    raise SystemExit(2)


@contextlib.contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar per phase (checking, writing) on stderr, shown only on a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    console = Console(stderr=True)
    bars = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    tasks: dict[str, Any] = {}

    def advance(phase: str, step: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bars.add_task(phase, total=total)
        bars.advance(tasks[phase], step)

    with bars:
        yield advance


# ------------------------------------------------------------------------------------------------- dlq
@main.group()
def dlq() -> None:
    """Dead-letter queues: why messages are there, and sending them back after a fix."""


def _sqs_for(queue_url: str, region: str | None, *other_urls: str) -> SQSClient:
    """An SQS client in the Region the queue URL names (--region wins; else the AWS configuration's)."""
    from contact_router_cli.dlq import region_of

    named = region_of(queue_url)
    for url in other_urls:
        if named and region_of(url) not in (None, named):
            raise click.UsageError(f"{url} is in {region_of(url)}, {queue_url} in {named}: both must be in one Region")
    return aws.Clients(region or named).sqs


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


@dlq.command("list")
@click.option("--queue-url", required=True, help="The dead-letter queue (stack outputs *DeadLetterQueueUrl).")
@click.option("--region", help="AWS Region (default: the one the queue URL names, else your AWS configuration).")
@click.option("--max", "limit", default=100, show_default=True, help="Messages to look at.")
@json_option
def dlq_list(queue_url: str, region: str | None, limit: int, as_json: bool) -> None:
    """Every message's contact and reason, then the count per reason (messages stay in the queue)."""
    from contact_router_cli.dlq import receive_all, summarize

    messages = receive_all(_sqs_for(queue_url, region), queue_url, limit)
    reasons = summarize(messages)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "queue_url": queue_url,
                    "looked_at": len(messages),
                    "reasons": dict(reasons.most_common()),
                    "messages": [m.to_json() for m in messages],
                },
                indent=2,
            )
        )
        return
    for m in messages:
        click.echo(f"{m.message_id}  contact {m.contact_id or '-'}  {m.reason}: {m.error}")
    for reason, count in reasons.most_common():
        click.echo(f"{count:5d}  {reason}")
    click.echo(f"{len(messages)} message(s) looked at")


@dlq.command("redrive")
@click.option("--queue-url", required=True, help="The dead-letter queue.")
@click.option("--to", "to_url", required=True, help="The queue to send the messages back to (the source queue).")
@click.option("--reason", help="Only messages dead-lettered for this reason (e.g. access_denied).")
@click.option("--region", help="AWS Region (default: the one the queue URL names, else your AWS configuration).")
@click.option("--max", "limit", default=1000, show_default=True, help="Look at most at this many messages.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: on a terminal).")
@json_option
def dlq_redrive(
    queue_url: str,
    to_url: str,
    reason: str | None,
    region: str | None,
    limit: int,
    progress: bool | None,
    as_json: bool,
) -> None:
    """Send dead-lettered messages back, unchanged, after fixing their cause (idempotency absorbs repeats).

    Each message is looked at once: the ones sent back are deleted, the others are visible again at the end.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from contact_router_cli.dlq import DeadLetterMessage, approximate_count, redrive

    sqs = _sqs_for(queue_url, region, to_url)
    show = sys.stderr.isatty() if progress is None else progress
    total = approximate_count(sqs, queue_url) if show else None
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[moved]} sent back"),
        TimeElapsedColumn(),
        console=render.console(stderr=True),
        transient=True,
        disable=not show,
    )
    with bar:
        task = bar.add_task("looking at messages", total=min(total, limit) if total is not None else None, moved=0)

        def advance(_: DeadLetterMessage, sent: bool) -> None:
            bar.update(task, advance=1, moved=bar.tasks[task].fields["moved"] + int(sent))

        report = redrive(sqs, queue_url, to_url, limit, reason, on_message=advance)
    if as_json:
        click.echo(json.dumps({"queue_url": queue_url, "to": to_url, "reason": reason, **report.to_json()}, indent=2))
        return
    left = sum(report.skipped.values())
    click.echo(
        f"{report.looked_at} message(s) looked at: {report.moved} sent back to {to_url}"
        + (f", {left} left in the queue (other reasons: " if left else "")
        + (", ".join(f"{r} {n}" for r, n in report.skipped.most_common()) + ")" if left else "")
    )
    if report.stopped_at_limit:
        click.echo(f"stopped after --max {limit} message(s): run it again for the rest")


# -------------------------------------------------------------------------------------------- simulate
@main.command()
@click.option("--contacts", default=2000, show_default=True, help="Contacts queued in the burst.")
@click.option("--agents", default=100, show_default=True, help="Agents of the emulated instance.")
@click.option("--workers", type=int, help="Concurrent router workers (default: template.yaml's MaxConcurrency).")
@click.option("--duplicates", default=3, show_default=True, help="Each event is delivered 1..N times.")
@click.option("--arrival-seconds", default=60.0, show_default=True, help="The contacts queue within this window.")
@click.option("--throttle-rate", default=0.0, show_default=True, help="Extra ThrottlingException rate per call.")
@click.option("--error-rate", default=0.0, show_default=True, help="InternalServiceException (5xx) rate per call.")
@click.option("--crash-rate", default=0.0, show_default=True, help="A worker dies after this share of associations.")
@click.option("--stale-rate", default=0.05, show_default=True, help="Extra events for contacts already gone.")
@click.option("--malformed-rate", default=0.02, show_default=True, help="Extra malformed bodies.")
@click.option("--latency-ms", nargs=2, type=float, default=(20.0, 80.0), show_default=True, help="Per call, uniform.")
@click.option("--quota-scale", type=float, default=1.0, show_default=True, help="Documented quotas x N (0: none).")
@click.option("--batching-window", type=float, help="Seconds (default: template.yaml's).")
@click.option("--mix", type=click.Choice(["mixed", "attribute"]), default="mixed", show_default=True)
@click.option("--inject-bug", type=click.Choice(["no-idempotency", "skip-waiting-check"]), help="Break the router.")
@click.option("--seed", default=1, show_default=True)
@click.option(
    "--scenario",
    type=click.Choice(["reference"]),
    help="Measure the outcome against Connect's native routing on the reference workload, in every mode.",
)
@click.option(
    "--modes",
    default="native,events,flow,flow+events",
    show_default=True,
    help="With --scenario: the modes to run, comma-separated.",
)
@click.option(
    "--flow-steps",
    type=click.Choice(["deployed", "answer"]),
    default="deployed",
    show_default=True,
    help="With --scenario: flow step durations from flows/preferred-agent.json, or the answer's stepSeconds.",
)
@click.option("--preferred-window", type=float, help="With --scenario: seconds the rule waits for the preferred agent.")
@click.option(
    "--event-delay",
    nargs=2,
    type=float,
    default=(0.5, 2.0),
    show_default=True,
    help="EventBridge to SQS delay, lognormal: MEDIAN P99 seconds (an assumption: docs/simulation.md).",
)
@click.option(
    "--cold-start",
    nargs=2,
    type=float,
    default=(0.8, 2.0),
    show_default=True,
    help="A worker's init on a cold start, lognormal: MEDIAN P99 seconds (an assumption: docs/simulation.md).",
)
@click.option(
    "--series",
    type=click.Path(dir_okay=False, path_type=Path),
    default=REPO_ROOT / "out" / "simulate.csv",
    show_default=True,
    help="Contacts queued and associated over time, and the quota line, as CSV.",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also draw the series as an image (needs the plot extra: matplotlib).",
)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the figures.")
@click.option(
    "--log", "log_path", type=click.Path(dir_okay=False, path_type=Path), default=REPO_ROOT / "out" / "simulate.jsonl"
)
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
def simulate(**kwargs: Any) -> None:
    """The whole pipeline under load, faults and bad input, in virtual time; exits 1 if an invariant breaks.

    EventBridge rule and SQS settings of template.yaml, concurrent workers running the router's handler
    path, the emulated instance with Connect's quotas. See docs/simulation.md.
    """
    from contact_router_cli.simulate.command import Outputs, run
    from contact_router_cli.simulate.pipeline import SimulationConfig
    from contact_router_cli.simulate.workload import WorkloadSpec

    progress = kwargs.pop("progress")
    scenario, modes, window = kwargs.pop("scenario"), kwargs.pop("modes"), kwargs.pop("preferred_window")
    flow_steps = kwargs.pop("flow_steps")
    (delay_median, delay_p99), (cold_median, cold_p99) = kwargs.pop("event_delay"), kwargs.pop("cold_start")
    event_delay, cold_start = (float(delay_median), float(delay_p99)), (float(cold_median), float(cold_p99))
    if scenario is not None:
        raise SystemExit(_simulate_scenario(kwargs, progress, modes, window, event_delay, cold_start, flow_steps))
    outputs = Outputs(
        **{name: kwargs.pop(name) for name in ("series", "plot", "json_path")},
        log=kwargs.pop("log_path"),
        progress=sys.stderr.isatty() if progress is None else progress,
    )
    workload = ("contacts", "agents", "arrival_seconds", "duplicates", "stale_rate", "malformed_rate", "mix")
    spec = WorkloadSpec(seed=kwargs["seed"], event_delay=event_delay, **{name: kwargs.pop(name) for name in workload})
    low, high = kwargs.pop("latency_ms")
    config = SimulationConfig(
        workload=spec,
        latency=(low / 1000, high / 1000),
        quota_scale=kwargs.pop("quota_scale") or None,
        cold_start=cold_start if cold_median > 0 else None,
        **kwargs,
    )
    raise SystemExit(run(config, outputs))


def _simulate_scenario(
    kwargs: dict[str, Any],
    progress: bool | None,
    modes: str,
    window: float | None,
    event_delay: tuple[float, float],
    cold_start: tuple[float, float],
    flow_steps: Literal["deployed", "answer"],
) -> int:
    """--scenario reference: one seeded workload in every mode asked for (docs/simulation.md). --contacts and
    --agents apply only when given, with the arrival window scaled to keep the occupancy."""
    from contact_router_cli.simulate.command import Outputs, run_modes
    from contact_router_cli.simulate.pipeline import MODES, SimulationConfig
    from contact_router_cli.simulate.workload import reference_spec

    chosen = [m.strip() for m in modes.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in MODES]
    if unknown or not chosen:
        raise click.BadParameter(f"unknown mode(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(MODES)}")
    context = click.get_current_context()
    given = {
        name: kwargs[name]
        for name in ("contacts", "agents")
        if context.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
    }
    base = reference_spec(kwargs["seed"])
    scale = (given.get("contacts", base.contacts) / base.contacts) * (base.agents / given.get("agents", base.agents))
    try:
        spec = reference_spec(
            kwargs["seed"],
            arrival_seconds=base.arrival_seconds * scale,
            event_delay=event_delay,
            **given,
            **({"preferred_window": window} if window is not None else {}),
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    low, high = kwargs["latency_ms"]
    configs = [
        SimulationConfig(
            workload=spec,
            mode=mode,  # type: ignore[arg-type]
            latency=(low / 1000, high / 1000),
            quota_scale=kwargs["quota_scale"] or None,
            cold_start=cold_start if cold_start[0] > 0 else None,
            flow_steps=flow_steps,
            seed=kwargs["seed"],
        )
        for mode in chosen
    ]
    outputs = Outputs(
        log=kwargs["log_path"],
        json_path=kwargs["json_path"],
        progress=sys.stderr.isatty() if progress is None else progress,
    )
    return run_modes(configs, outputs)


# -------------------------------------------------------------------------------------------- emulator
@main.group()
def emulator() -> None:
    """The embedded Amazon Connect emulator."""


@emulator.command("serve")
@click.option("--world", type=existing_file, default=SAMPLE_WORLD, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8787, show_default=True, type=int)
def emulator_serve(world: Path, host: str, port: int) -> None:
    """Serve the emulated instance over HTTP; point boto3 at it with AWS_ENDPOINT_URL_CONNECT."""
    from connect_emulator import ConnectEmulator, World

    emu = ConnectEmulator(World.from_file(world))
    click.echo(f"emulated instance {emu.instance_arn}")
    click.echo(f"export AWS_ENDPOINT_URL_CONNECT=http://{host}:{port}")
    emu.serve_forever(host, port)


# ------------------------------------------------------------------------------------------- preflight
from contact_router_cli.preflight import preflight  # noqa: E402 - registered here, defined in its own module

main.add_command(preflight)


def cli(argv: list[str] | None = None) -> Any:
    return main.main(args=argv, prog_name="contact-router")


if __name__ == "__main__":
    sys.exit(cli())
