"""The supervision use case: a contact connected to an agent -> maybe a supervisor monitoring it.

1. screen the event (no API call): event type, supervised channels, monitoring legs;
2. DescribeContact: still connected? (events are late and duplicated);
3. first supervision rule whose conditions hold (routing conditions, the handling agent, then the sample);
4. inside the idempotency guard (key: contact and handling agent): resolve the supervisors, one
   GetCurrentUserData for all of them, then MonitorContact with a deterministic ClientToken for the first
   eligible one; a ServiceQuotaExceeded (402) moves on to the next, an IdempotencyException (409) means the
   same request was already made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Protocol

from contact_router.errors import PermanentError
from contact_router.models.agent import AgentState, UserRef
from contact_router.models.contact import Contact
from contact_router.models.contact_event import ContactEventDetail
from contact_router.models.decision import CandidateVerdict, Verdict
from contact_router.models.supervision import SupervisionDecision, SupervisionOutcome
from contact_router.routing.ports import IdempotencyPort, RulesProviderPort
from contact_router.routing.references import ReferenceKind, arn_allowed, classify
from contact_router.routing.refusal import after_refusal
from contact_router.routing.replay import decide_once
from contact_router.rules.matcher import mismatch
from contact_router.rules.model import SupervisionRule
from contact_router.supervision.policy import (
    client_token,
    judge_supervisors,
    sample_bucket,
    sampled,
    validate_monitor_request,
)


class SupervisionConnectPort(Protocol):
    instance_id: str

    def describe_contact(self, contact_id: str) -> Contact: ...

    def current_user_data(self, user_ids: Sequence[str]) -> Mapping[str, AgentState]: ...

    def find_by_username(self, username: str) -> UserRef | None: ...

    def hierarchy_group_of(self, user_id: str) -> str | None: ...

    def monitor_contact(self, contact_id: str, user_id: str, capabilities: Sequence[str], client_token: str) -> str: ...


@dataclass(frozen=True)
class SupervisorOptions:
    instance_arn: str
    supervised_channels: frozenset[str] = frozenset({"VOICE", "CHAT"})
    dry_run: bool = False
    allowed_agent_arn_pattern: str = ""


class Supervisor:
    def __init__(
        self,
        options: SupervisorOptions,
        connect: SupervisionConnectPort,
        rules: RulesProviderPort,
        idempotency: IdempotencyPort | None = None,
    ) -> None:
        self.options = options
        self.connect = connect
        self.rules = rules
        self.idempotency = idempotency

    def supervise(self, event: ContactEventDetail) -> SupervisionDecision:
        base = SupervisionDecision(
            outcome=SupervisionOutcome.IGNORED,
            contact_id=event.contact_id,
            channel=event.channel,
            event_type=event.event_type,
            dry_run=self.options.dry_run,
        )
        if event.event_type != "CONNECTED_TO_AGENT":
            return replace(
                base, reason="not_connected_event", detail=f"event type {event.event_type} is not supervised"
            )
        skip = self._screen(event.channel, event.initiation_method)
        if skip:
            return replace(base, reason=skip[0], detail=skip[1])
        if event.instance_arn.lower() != self.options.instance_arn.lower():
            raise PermanentError("other_instance", f"event for instance {event.instance_arn}")

        contact = self.connect.describe_contact(event.contact_id)
        base = replace(base, channel=contact.channel, agent_id=contact.agent_id)
        skip = self._screen(contact.channel, contact.initiation_method)
        if skip:
            return replace(base, reason=skip[0], detail=skip[1])
        not_connected = _not_connected(contact)
        if not_connected is not None:
            detail = "contact ended" if not_connected == "disconnected" else "no agent connected yet"
            return replace(base, outcome=SupervisionOutcome.NOT_CONNECTED, reason=not_connected, detail=detail)

        rule, why_not = self._match(contact)
        if rule is None:
            return replace(base, outcome=SupervisionOutcome.NO_RULE_MATCHED, reason="no_rule_matched", detail=why_not)
        base = replace(base, rule=rule.name, capabilities=tuple(rule.capabilities))
        if not sampled(rule, contact.id):
            bucket = sample_bucket(rule.name, contact.id)
            return replace(
                base,
                outcome=SupervisionOutcome.NOT_SAMPLED,
                reason="not_sampled",
                detail=f"sample {bucket:.3f} >= rate {rule.when.sample_rate}",
            )

        key = {"contact_id": contact.id, "agent_id": contact.agent_id, "dry_run": self.options.dry_run}
        return decide_once(
            self.idempotency, key, partial(self._choose_and_monitor, base, contact, rule), SupervisionDecision
        )

    # --------------------------------------------------------------------------------------- internals
    def _screen(self, channel: str, initiation_method: str | None) -> tuple[str, str] | None:
        if initiation_method == "MONITOR":
            return "monitor_leg", "a monitoring leg is never monitored"
        if channel not in self.options.supervised_channels:
            return "channel_not_supervised", f"channel {channel} is not in SUPERVISED_CHANNELS"
        return None

    def _match(self, contact: Contact) -> tuple[SupervisionRule | None, str]:
        misses = []
        for rule in self.rules.current().supervision:
            if not rule.enabled:
                continue
            why_not = mismatch(rule.when, contact) or self._agent_mismatch(rule, contact)
            if why_not is None:
                return rule, ""
            misses.append(f"{rule.name}: {why_not}")
        return None, "; ".join(misses) or "no supervision rules"

    def _agent_mismatch(self, rule: SupervisionRule, contact: Contact) -> str | None:
        condition = rule.when.agent
        if condition is None or contact.agent_id is None:
            return None
        if condition.users is not None:
            ids = {u.id for u in (self._user(ref) for ref in condition.users) if u is not None}
            if contact.agent_id in ids:
                return None
        if condition.hierarchy_groups is not None:
            group = self.connect.hierarchy_group_of(contact.agent_id)
            if group in condition.hierarchy_groups:
                return None
        return "handling agent not in the rule's users or hierarchy groups"

    def _user(self, raw: str) -> UserRef | None:
        ref = classify(raw)
        if ref.kind is ReferenceKind.USERNAME:
            return self.connect.find_by_username(ref.value)
        if ref.kind is ReferenceKind.INVALID:
            return None
        arn = raw.strip() if ref.kind is ReferenceKind.ARN else f"{self.options.instance_arn}/agent/{ref.value}"
        return UserRef(id=ref.value, arn=arn)

    def _resolve_supervisors(self, rule: SupervisionRule) -> list[CandidateVerdict]:
        out: list[CandidateVerdict] = []
        seen: set[str] = set()
        for raw in rule.supervisors:
            user = self._user(raw)
            if user is None:
                kind = classify(raw).kind
                verdict = Verdict.INVALID_REFERENCE if kind is ReferenceKind.INVALID else Verdict.UNKNOWN_USER
                out.append(
                    CandidateVerdict(
                        "supervisors", verdict, reference=raw if kind is not ReferenceKind.INVALID else None
                    )
                )
            elif not arn_allowed(user.arn, self.options.allowed_agent_arn_pattern):
                out.append(CandidateVerdict("supervisors", Verdict.NOT_ALLOWED, user.id, user.username))
            elif user.id in seen:
                out.append(CandidateVerdict("supervisors", Verdict.DUPLICATE, user.id, user.username))
            else:
                seen.add(user.id)
                out.append(CandidateVerdict("supervisors", Verdict.ELIGIBLE, user.id, user.username))
        return out

    def _choose_and_monitor(
        self, base: SupervisionDecision, contact: Contact, rule: SupervisionRule
    ) -> SupervisionDecision:
        candidates = self._resolve_supervisors(rule)
        ids = [c.user_id for c in candidates if c.verdict is Verdict.ELIGIBLE and c.user_id]
        states = self.connect.current_user_data(ids) if ids else {}
        judged = judge_supervisors(candidates, states, rule, contact.agent_id)
        final: list[CandidateVerdict] = []
        chosen: CandidateVerdict | None = None
        monitoring_id: str | None = None
        outcome = SupervisionOutcome.NO_SUPERVISOR_AVAILABLE
        for candidate in judged:
            if chosen is not None or candidate.verdict is not Verdict.ELIGIBLE or candidate.user_id is None:
                final.append(candidate)
                continue
            if self.options.dry_run:
                chosen, outcome = candidate, SupervisionOutcome.WOULD_MONITOR
                final.append(replace(candidate, verdict=Verdict.CHOSEN))
                continue
            token = client_token(contact.id, candidate.user_id, rule.capabilities)
            validate_monitor_request(self.connect.instance_id, contact.id, candidate.user_id, rule.capabilities)
            try:
                monitoring_id = self.connect.monitor_contact(contact.id, candidate.user_id, rule.capabilities, token)
                outcome = SupervisionOutcome.MONITORING_STARTED
            except PermanentError as exc:
                if exc.reason == "quota_exceeded":
                    final.append(replace(candidate, verdict=Verdict.QUOTA_EXCEEDED, detail=exc.message))
                    continue
                if exc.reason != "idempotency_conflict":
                    # The call may have ended (or been transferred) since DescribeContact: re-read before blaming it.
                    moved = after_refusal(
                        exc, "MonitorContact", contact.id, self.connect.describe_contact, _not_connected
                    )
                    return replace(
                        base,
                        candidates=(*final, replace(candidate, detail=exc.message), *judged[len(final) + 1 :]),
                        outcome=SupervisionOutcome.NOT_CONNECTED,
                        reason=moved.reason,
                        detail=f"no longer connected when MonitorContact was refused ({exc.reason})",
                    )
                outcome = SupervisionOutcome.ALREADY_MONITORED
            chosen = candidate
            final.append(replace(candidate, verdict=Verdict.CHOSEN))
        decided = replace(base, candidates=tuple(final), outcome=outcome)
        if chosen is None:
            first = final[0] if final else None
            return replace(
                decided,
                reason=first.verdict.value if first else "no_supervisors",
                detail="; ".join(f"{c.label}: {c.verdict.value}" for c in final),
            )
        return replace(
            decided,
            supervisor_id=chosen.user_id,
            supervisor_username=chosen.username,
            monitoring_contact_id=monitoring_id,
            reason="dry_run" if self.options.dry_run else outcome.value,
            detail=" + ".join(rule.capabilities),
        )


def _not_connected(contact: Contact) -> str | None:
    """Why a contact cannot be monitored now (``disconnected``, ``not_connected``), or None while it is connected."""
    if contact.disconnected_at is not None:
        return "disconnected"
    if contact.connected_to_agent_at is None or not contact.agent_id:
        return "not_connected"
    return None
