"""The invariants a simulation must keep, checked against the simulation's ground truth (what each message
really was, what the emulated instance really did), not against what the router says about itself."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from contact_router.models.decision import Decision, Outcome
from contact_router_cli.simulate.pipeline import RecordResult, SimulationResult

ASSOCIATE = "AssociateContactWithUser"
# Outcomes that leave a contact with its queue (Connect routes it), each with a reason.
LEFT_WITH_QUEUE = frozenset(
    {
        Outcome.NO_ELIGIBLE_AGENT,
        Outcome.NO_RULE_MATCHED,
        Outcome.ROUTING_CRITERIA_SET,
        Outcome.NOT_WAITING,
        Outcome.IGNORED,
    }
)
PERMANENT_KINDS = frozenset({"malformed", "junk", "unknown_contact"})
EXAMPLES = 5


@dataclass
class Invariant:
    name: str
    description: str
    violations: list[str] = field(default_factory=list)
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.violations

    def fail(self, message: str) -> None:
        self.violations.append(message)


def check(result: SimulationResult) -> list[Invariant]:
    return [
        no_double_association(result),
        every_contact_accounted(result),
        malformed_never_crashes(result),
        dead_letters_only_permanent(result),
        pipeline_drained(result),
    ]


def association_attempts(result: SimulationResult) -> dict[str, list[tuple[float, int | None]]]:
    """AssociateContactWithUser requests per contact: (time, status), whatever their outcome."""
    attempts: dict[str, list[tuple[float, int | None]]] = defaultdict(list)
    for call in result.calls:
        if call.operation == ASSOCIATE:
            attempts[str(call.params.get("ContactId"))].append((call.time, call.status))
    return attempts


def no_double_association(result: SimulationResult) -> Invariant:
    """No contact associated twice -- nor even asked for again once associated. Connect may or may not
    refuse a second AssociateContactWithUser for a contact already offered to an agent (unverified; the
    emulator refuses it), so the router must never send one."""
    inv = Invariant(
        "no contact associated twice",
        "at most one successful AssociateContactWithUser per "
        "contact, and no request for a contact after it was associated",
    )
    for contact_id, attempts in association_attempts(result).items():
        inv.checked += 1
        first = next((t for t, status in sorted(attempts) if status == 200), None)
        if first is None:
            continue
        later = [status for t, status in attempts if t > first]
        successes = sum(1 for _, status in attempts if status == 200)
        if successes > 1 or later:
            inv.fail(f"{contact_id}: {successes} successful association(s), {len(later)} request(s) after the first")
    if result.config.native:
        # With native routing most contacts reach an agent without any association: what must not happen is
        # a contact connected twice (routed natively and associated, or to two agents).
        connected: dict[str, list[str]] = defaultdict(list)
        for connection in result.emulator.connections:
            connected[connection.contact_id].append(f"{connection.user_id} ({connection.via})")
        for contact_id, agents in connected.items():
            inv.checked += 1
            if len(agents) > 1:
                inv.fail(f"{contact_id}: connected {len(agents)} times: {', '.join(agents)}")
    return inv


def every_contact_accounted(result: SimulationResult) -> Invariant:
    """Every valid contact ends associated, left with its queue with a reason, or dead-lettered with a
    reason; a stale contact (already answered or abandoned) is never associated by the router."""
    inv = Invariant(
        "no contact lost",
        "every valid contact ends associated, left with its queue with a reason, or in the dead-letter queue "
        "with a reason; stale events never associate",
    )
    associated = {a.contact_id for a in result.associations}
    decisions = decisions_by_contact(result.records)
    dead_lettered = {
        origin.contact_id: message.attributes.get("reason")
        for message in result.dead_letters
        if (origin := result.origin_of_dead_letter(message)).contact_id
    }
    ended = _ended_with_native_routing(result) if result.config.native else {}
    for plan in result.workload.contacts:
        inv.checked += 1
        if result.config.native and plan.kind == "valid" and not ended.get(plan.id):
            snapshot = result.emulator.contact(plan.id)
            inv.fail(f"{plan.id}: {snapshot.state} at the end, neither answered nor abandoned by its customer")
            continue
        if not result.config.router:
            continue
        final = final_decision(decisions.get(plan.id, []))
        if plan.kind == "stale":
            if plan.id in associated:
                inv.fail(f"{plan.id} (stale event): associated by the router")
            continue
        if plan.id in associated:
            continue
        if final is not None and final.outcome in LEFT_WITH_QUEUE and final.reason:
            continue
        if dead_lettered.get(plan.id):
            continue
        seen = f"last decision {final.outcome.value} ({final.reason})" if final else "never decided"
        letter = "; dead-lettered without a reason" if plan.id in dead_lettered else ""
        inv.fail(f"{plan.id}: not associated, {seen}{letter}")
    return inv


def _ended_with_native_routing(result: SimulationResult) -> dict[str, bool]:
    """Contact id -> whether it ended as a customer's contact ends: connected to an agent, then disconnected,
    or abandoned while waiting (the emulator's ground truth, after the run settled)."""
    return {
        c.id: c.state == "DISCONNECTED" and (c.abandoned or c.connected_at is not None)
        for c in result.emulator.contacts()
    }


def malformed_never_crashes(result: SimulationResult) -> Invariant:
    """Malformed input is rejected with a reason and never breaks a batch: a body that cannot be parsed is
    rejected the first time it is seen; an event naming a contact that does not exist is rejected once
    DescribeContact answers (a throttled DescribeContact may send it back to SQS first). A copy of that event
    that arrives while another delivery holds its episode claim is a Duplicate: it passes only if that other
    delivery was rejected with its reason (the dead-letter queue holds the event once, with why)."""
    inv = Invariant(
        "malformed input never crashes a batch",
        "no record raises anything but a transient error, no batch fails, every malformed body is rejected "
        "with a reason (unparseable ones on their first delivery)",
    )
    for error in result.workers.batch_errors:
        inv.fail(f"a batch raised {error}")
    rejected: set[str] = set()
    copies: dict[str, str] = {}  # message id -> the contact of a copy settled as a Duplicate
    events_rejected: set[str] = set()  # contacts of which some delivery was rejected with its reason
    for record in result.records:
        origin = record.origin
        if record.unexpected:
            inv.fail(f"message {record.message_id} ({origin.kind}): unhandled {record.unexpected}")
        if origin.kind not in PERMANENT_KINDS:
            continue
        decision = record.decision
        if decision is not None and decision.outcome is Outcome.REJECTED and decision.reason:
            rejected.add(record.message_id)
            events_rejected.add(origin.contact_id or record.message_id)
        elif decision is not None and decision.outcome is Outcome.DUPLICATE and origin.kind == "unknown_contact":
            # A copy that met the episode claim of another delivery still at work on the same event: settled
            # only if that delivery was rejected with the reason (checked below).
            copies[record.message_id] = origin.contact_id or ""
        elif decision is not None:
            inv.fail(f"message {record.message_id} ({origin.note}): {decision.outcome.value}, not rejected")
        elif origin.kind != "unknown_contact":
            inv.fail(f"message {record.message_id} ({origin.note}): failed ({record.transient}) and retried")
    for message_id, origin in result.origins.items():
        if origin.kind in PERMANENT_KINDS:
            inv.checked += 1
            if message_id in rejected:
                continue
            if message_id in copies and copies[message_id] in events_rejected:
                continue
            inv.fail(f"message {message_id} ({origin.note}): never rejected")
    return inv


def dead_letters_only_permanent(result: SimulationResult) -> Invariant:
    """Every message in the dead-letter queue was put there by the router, with its reason: a permanent
    failure (malformed, or a contact that does not exist) at once, anything else only on its last receive
    (the router dead-letters its last error itself). Nothing is moved there by SQS's redrive, which would
    carry no reason, and nothing a retry could still fix is dead-lettered early."""
    inv = Invariant(
        "dead-letter queue holds only permanent failures",
        "every dead-lettered message carries the router's reason: a permanent error, or the last error on "
        "its last receive (maxReceiveCount); none was moved there by SQS's redrive without one",
    )
    limit = result.config.max_receive_count or result.deployment.max_receive_count
    for message in result.dead_letters:
        inv.checked += 1
        origin = result.origin_of_dead_letter(message)
        what = f"{origin.kind} {origin.contact_id or origin.note}".strip()
        received = int(message.attributes.get("receive_count") or message.receive_count or 0)
        if message.redriven or not message.attributes.get("reason"):
            inv.fail(f"{what}: redriven after {message.receive_count} receives without a permanent reason")
        elif origin.kind not in PERMANENT_KINDS and received < limit:
            inv.fail(
                f"{what}: dead-lettered as {message.attributes.get('reason')} on receive {received} of "
                f"{limit}: {message.attributes.get('error')}"
            )
    return inv


def pipeline_drained(result: SimulationResult) -> Invariant:
    inv = Invariant("the pipeline drains", "every message was handled before the simulation's time limit")
    inv.checked = 1
    if not result.drained:
        inv.fail(f"messages still queued after {result.config.max_virtual_seconds:.0f} virtual seconds")
    return inv


def decisions_by_contact(records: Iterable[RecordResult]) -> dict[str, list[Decision]]:
    by_contact: dict[str, list[Decision]] = defaultdict(list)
    for record in records:
        contact_id = record.origin.contact_id
        if record.decision is not None and contact_id:
            by_contact[contact_id].append(record.decision)
    return by_contact


def final_decision(decisions: list[Decision]) -> Decision | None:
    """The last decision that is not a replay of an earlier one (a late duplicate says nothing new)."""
    own = [d for d in decisions if d.outcome is not Outcome.DUPLICATE]
    return own[-1] if own else None
