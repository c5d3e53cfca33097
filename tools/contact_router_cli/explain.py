"""``contact-router explain``: what the router would decide for one contact now, and why (read-only).

It runs the router's own decision code, built by the composition root exactly as the function builds it
(``build_router(..., read_only=True)``) from the function's settings: the same rules source (file, SSM,
AppConfig), affinity/owners table and customer-key secret, Customer Profiles domain and wait fallbacks. Read-
only means a forced dry run (no AssociateContactWithUser, no UpdateContactRoutingData), no idempotency store
(nothing written, no stored decision replayed) and re-checks recorded instead of sent: a wait rule says
"re-check in N s".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from rich.console import Console

from contact_router.adapters.aws import Clients
from contact_router.composition import ReadOnlyRechecks, build_router
from contact_router.config import Settings
from contact_router.models.contact import Contact
from contact_router.models.decision import Decision
from contact_router.routing.attributes import with_attributes
from contact_router.routing.router import Router
from contact_router.rules.matcher import match_rule
from contact_router.rules.model import FallbackStep
from contact_router_cli import render

if TYPE_CHECKING:
    from types_boto3_lambda import LambdaClient


def function_environment(function_name: str, lambda_client: LambdaClient) -> dict[str, str]:
    """A deployed router function's environment variables (Lambda GetFunctionConfiguration), as text: Lambda's
    model types them as strings, but a stack's Number parameter (RulesCacheSeconds) reaches moto's copy as a
    number, and preflight reads them the same way."""
    config = lambda_client.get_function_configuration(FunctionName=function_name)
    return {name: str(value) for name, value in config.get("Environment", {}).get("Variables", {}).items()}


def explain_contact(
    contact_id: str,
    *,
    settings: Settings,
    clients: Clients,
    out: Console,
    as_json: bool = False,
    names: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any] | None:
    """Prints the trace, or with ``as_json`` returns it as a dict (printing nothing)."""
    names = names or {}
    rechecks = ReadOnlyRechecks()
    router, shared = build_router(settings, clients, clock=clock, rechecks=rechecks, read_only=True)
    # What the router itself reads: attributes by GetContactAttributes when DescribeContact left them out
    contact = with_attributes(
        shared.connect.describe_contact(contact_id), router.rules.current().routing, shared.connect
    )
    trace = _trace(contact, router, rechecks, settings, names)
    if as_json:
        return trace
    _print(trace, out, names)
    return None


def _trace(
    contact: Contact, router: Router, rechecks: ReadOnlyRechecks, settings: Settings, names: Mapping[str, str]
) -> dict[str, Any]:
    rules = router.rules
    match = match_rule(rules.current().routing, contact)
    decision = router.decide(contact)
    record = decision.to_record()
    if decision.agent_id and not decision.agent_username and decision.agent_id in names:
        record["agent_username"] = names[decision.agent_id]
    waiting = contact.not_waiting_reason()
    return {
        "contact": {
            "id": contact.id,
            "channel": contact.channel,
            "queue_id": contact.queue_id,
            "initiation_method": contact.initiation_method,
        },
        "state": "waiting in queue" if waiting is None else waiting.value,
        "rules_source": rules.source,
        "rules_version": rules.version,
        "deployment": {
            "dry_run": settings.dry_run,
            "affinity_table": settings.affinity_table,
            "customer_profiles_domain": settings.customer_profiles_domain,
            "wait_rechecks": "router queue" if settings.router_queue_url else "none (ROUTER_QUEUE_URL not set)",
        },
        "rules": [{"rule": name, "match": False, "why": why} for name, why in match.misses]
        + ([{"rule": match.rule.name, "match": True}] if match.rule else []),
        "fallback": [_step(step) for step in match.rule.fallback] if match.rule else [],
        "would_recheck_in_seconds": rechecks.scheduled[0][1] if rechecks.scheduled else _recheck_delay(record),
        "decision": record,
        "now": _now(decision.outcome.value, record, settings.dry_run),
    }


def _recheck_delay(record: Mapping[str, Any]) -> int | None:
    """In a dry run the router does not schedule; its detail says "re-check in N s"."""
    detail = str(record.get("detail") or "")
    if record.get("outcome") != "Waiting" or "re-check in " not in detail:
        return None
    return int(detail.split("re-check in ", 1)[1].split(" ", 1)[0])


def _now(outcome: str, record: Mapping[str, Any], deployed_dry_run: bool) -> str:
    """What the deployed function would do now, in one sentence."""
    agent = record.get("agent_username") or record.get("agent_id")
    if outcome == "WouldAssociate":
        act = "would only log it (DryRun=true)" if deployed_dry_run else "would call AssociateContactWithUser"
        return f"route to {agent}: the function {act}"
    if outcome == "Waiting":
        return f"wait: would re-check in {_recheck_delay(record)} s"
    if outcome == "RoutingCriteriaSet":
        return "set routing criteria preferring the candidates"
    return f"{outcome}: {record.get('detail') or record.get('reason') or ''}".strip()


def _print(trace: Mapping[str, Any], out: Console, names: Mapping[str, str]) -> None:
    contact = trace["contact"]
    out.print(
        f"[bold]contact {contact['id']}[/bold]: {contact['channel']}, queue {contact['queue_id'] or '-'}, "
        f"initiation {contact['initiation_method'] or '-'}"
    )
    out.print(f"state: {trace['state']}")
    out.print(f"rules: {trace['rules_source']} (version {trace['rules_version']})")
    for rule in trace["rules"]:
        if rule["match"]:
            out.print(f"  rule {rule['rule']}: [green]match[/green]")
        else:
            out.print(f"  rule {rule['rule']}: [dim]no match[/dim] ({rule['why']})")
    if trace["fallback"] and trace["fallback"] != ["queue"]:
        out.print("  fallback when nobody is eligible: " + " -> ".join(trace["fallback"]))
    decision = trace["decision"]
    if decision.get("candidates"):
        out.print(render.candidates_table(Decision.from_record(decision), lambda user_id: names.get(user_id or "")))
    agent = decision.get("agent_username") or decision.get("agent_id")
    verdict = f"would associate with {agent} " if agent and decision["outcome"] == "WouldAssociate" else ""
    out.print(
        f"decision now: [bold]{decision['outcome']}[/bold] {verdict}— {decision.get('reason')}: "
        f"{decision.get('detail') or ''}"
    )
    out.print(f"the function would: {trace['now']}")


def _step(step: FallbackStep) -> str:
    if step.wait is not None:
        return f"wait (re-check every {step.wait.interval_seconds} s for up to {step.wait.max_seconds} s)"
    if step.routing_criteria is not None:
        each = "one step per candidate" if step.routing_criteria.one_step_per_candidate else "one step"
        return f"routing criteria ({each}, {step.routing_criteria.expiry_seconds} s)"
    return "queue"
