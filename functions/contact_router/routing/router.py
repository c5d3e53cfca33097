"""The routing use case: from a parsed QUEUED event to an association (or a reasoned non-association).

Order of work, cheapest and safest first:
1. screen the event (no API call): event type, channel, monitor legs, agent replies, agent queues;
2. DescribeContact: is it still waiting? (events arrive late, out of order and more than once);
3. first matching rule (pure);
4. inside the idempotency guard (key: contact, queue, enqueue time): resolve candidates, one
   GetCurrentUserData for all of them, choose, AssociateContactWithUser (skipped in dry run).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from contact_router.customers.history import CustomerHistory
from contact_router.errors import ContactRouterError, PermanentError
from contact_router.models.agent import UserRef
from contact_router.models.contact import Contact
from contact_router.models.contact_event import ContactEventDetail
from contact_router.models.decision import CandidateVerdict, Decision, Outcome, Verdict
from contact_router.routing.batch import MAX_AGENTS, BatchPlan, Prepared, SharedAgentStates
from contact_router.routing.eligibility import judge
from contact_router.routing.fallback import (
    LeaveToQueue,
    Recheck,
    SetRoutingCriteria,
    WaitAgain,
    hop,
    plan,
    routing_steps,
    step_agents,
)
from contact_router.routing.ports import (
    ConnectPort,
    HistoryPort,
    IdempotencyPort,
    RecheckPort,
    RulesProviderPort,
    UserDirectoryPort,
)
from contact_router.routing.references import ReferenceKind, arn_allowed, classify
from contact_router.routing.screening import screen_contact, screen_event
from contact_router.rules.matcher import match_rule
from contact_router.rules.model import CandidateSource, RoutingRule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RouterOptions:
    instance_arn: str
    dry_run: bool = False
    route_voice: bool = False
    allowed_agent_arn_pattern: str = ""


class Router:
    def __init__(
        self,
        options: RouterOptions,
        connect: ConnectPort,
        users: UserDirectoryPort,
        rules: RulesProviderPort,
        idempotency: IdempotencyPort | None = None,
        rechecks: RecheckPort | None = None,
        clock: Callable[[], float] = time.time,
        history: HistoryPort | None = None,
    ) -> None:
        self.options = options
        self.connect = connect
        self.users = users
        self.rules = rules
        self.idempotency = idempotency
        self.rechecks = rechecks
        self.clock = clock
        self.history = history

    # ----------------------------------------------------------------------------------------- entry
    def route(
        self, detail: ContactEventDetail, recheck: Recheck | None = None, plan: BatchPlan | None = None
    ) -> Decision:
        base = Decision(
            outcome=Outcome.IGNORED,
            contact_id=detail.contact_id,
            channel=detail.channel,
            event_type=detail.event_type,
            queue_id=detail.queue_info.queue_id if detail.queue_info else None,
            dry_run=self.options.dry_run,
        )
        skip = screen_event(detail, self.options.route_voice)
        if skip:
            return replace(base, reason=skip.reason, detail=skip.detail)
        if recheck is not None and (remaining := hop(recheck, self.clock())) is not None and self.rechecks:
            # A wait longer than SQS's 15-minute delay arrives in hops: pass it on, no API call.
            self.rechecks.schedule(recheck.to_message(), remaining)
            return replace(
                base,
                outcome=Outcome.WAITING,
                fallback="wait",
                attempt=recheck.attempt,
                reason="hop",
                detail=f"long wait: next hop in {remaining} s",
            )
        if detail.instance_arn.lower() != self.options.instance_arn.lower():
            raise PermanentError(
                "other_instance",
                f"event for instance {detail.instance_arn}; this deployment serves {self.options.instance_arn}",
            )

        prepared = plan.take(detail.contact_id) if plan is not None else None
        contact = prepared.contact if prepared else self.connect.describe_contact(detail.contact_id)
        return self.decide(contact, base, recheck, prepared=prepared, agents=plan.agents if plan else None)

    def plan_batch(self, items: Sequence[tuple[ContactEventDetail, Recheck | None]]) -> BatchPlan:
        """Read-only first pass over a batch, then one GetCurrentUserData for every candidate in it.

        Anything that cannot be prepared here (ignored events, hops, errors) is simply left out: those
        records take the ordinary per-record path, with its own error handling.
        """
        plan = BatchPlan()
        for detail, recheck in items:
            if detail.contact_id in plan.prepared or screen_event(detail, self.options.route_voice):
                continue
            if recheck is not None and hop(recheck, self.clock()) is not None:
                continue
            if detail.instance_arn.lower() != self.options.instance_arn.lower():
                continue
            try:
                contact = self.connect.describe_contact(detail.contact_id)
                if screen_contact(contact, self.options.route_voice) or contact.not_waiting_reason():
                    plan.prepared[contact.id] = Prepared(contact, None)
                    continue
                rule = match_rule(self.rules.current().routing, contact).rule
                candidates = tuple(self._collect_candidates(rule, contact)) if rule else ()
            except ContactRouterError as exc:
                plan.failed[detail.contact_id] = exc  # raised on the record's own path, with its policy
                continue
            plan.prepared[contact.id] = Prepared(contact, rule, candidates)
        wanted = list(
            dict.fromkeys(
                c.user_id
                for p in plan.prepared.values()
                for c in p.candidates
                if c.verdict is Verdict.ELIGIBLE and c.user_id
            )
        )[:MAX_AGENTS]
        if wanted:
            try:
                plan.agents.states.update(self.connect.current_user_data(wanted))
                plan.agents.covered.update(wanted)
            except ContactRouterError as exc:
                plan.agents.error = exc
        return plan

    def decide(
        self,
        contact: Contact,
        base: Decision | None = None,
        recheck: Recheck | None = None,
        *,
        prepared: Prepared | None = None,
        agents: SharedAgentStates | None = None,
    ) -> Decision:
        """Everything after DescribeContact: screening, waiting check, rules, candidates, association."""
        base = replace(
            base or Decision(outcome=Outcome.IGNORED, contact_id=contact.id, event_type="QUEUED"),
            channel=contact.channel,
            queue_id=contact.queue_id or (base.queue_id if base else None),
            dry_run=self.options.dry_run,
        )
        skip = screen_contact(contact, self.options.route_voice)
        if skip:
            return replace(base, reason=skip.reason, detail=skip.detail)
        not_waiting = contact.not_waiting_reason()
        if not_waiting:
            return replace(base, outcome=Outcome.NOT_WAITING, reason=not_waiting.value, detail=_why(contact))

        rule = prepared.rule if prepared else match_rule(self.rules.current().routing, contact).rule
        if rule is None:
            return replace(
                base, outcome=Outcome.NO_RULE_MATCHED, reason="no_rule_matched", detail="left with its queue"
            )
        candidates = prepared.candidates if prepared else None
        base = replace(base, rule=rule.name)

        if self.idempotency is None:
            return self._decide_and_act(base, contact, rule, recheck, candidates, agents)
        key = {
            "contact_id": contact.id,
            "queue_id": contact.queue_id,
            "enqueued_at": contact.enqueued_at.isoformat() if contact.enqueued_at else None,
            "dry_run": self.options.dry_run,
            # every re-check of a wait is its own decision
            "recheck": [recheck.step, recheck.attempt] if recheck else None,
        }
        record, replayed = self.idempotency.run(
            key, lambda: self._decide_and_act(base, contact, rule, recheck, candidates, agents).to_record()
        )
        decision = Decision.from_record(record)
        if replayed:
            return replace(
                decision,
                outcome=Outcome.DUPLICATE,
                replayed=True,
                reason="already_decided",
                detail=f"redelivered event; first decision was {decision.outcome.value}",
            )
        return decision

    # -------------------------------------------------------------------------------- decide and act
    def _decide_and_act(
        self,
        base: Decision,
        contact: Contact,
        rule: RoutingRule,
        recheck: Recheck | None = None,
        prepared_candidates: tuple[CandidateVerdict, ...] | None = None,
        agents: SharedAgentStates | None = None,
    ) -> Decision:
        candidates = (
            list(prepared_candidates) if prepared_candidates is not None else self._collect_candidates(rule, contact)
        )
        to_check = [c.user_id for c in candidates if c.verdict is Verdict.ELIGIBLE and c.user_id]
        if agents is not None and agents.error is not None and to_check:
            raise agents.error
        if agents is not None and agents.covers(to_check):
            states = agents.view(to_check)  # the batch's shared GetCurrentUserData
        else:
            states = self.connect.current_user_data(to_check) if to_check else {}
        judged = judge(candidates, states, rule, contact.channel)
        base = replace(base, candidates=tuple(judged))
        chosen = next((c for c in judged if c.verdict is Verdict.CHOSEN), None)
        if chosen is None or chosen.user_id is None:
            return self._fallback(base, contact, rule, judged, recheck)
        if recheck is not None:
            waited = round(self.clock() - recheck.step_started_at, 1)
            base = replace(base, fallback="wait", attempt=recheck.attempt, waited_seconds=waited)
        chosen_base = replace(base, agent_id=chosen.user_id, agent_username=chosen.username)
        if self.options.dry_run:
            return replace(chosen_base, outcome=Outcome.WOULD_ASSOCIATE, reason="dry_run", detail=chosen.detail)
        try:
            self.connect.associate(contact.id, chosen.user_id)
            if agents is not None:
                agents.take_slot(chosen.user_id, contact.channel)
        except PermanentError as exc:
            if exc.reason != "invalid_request":
                raise
            # The contact may have been taken between our check and the call: re-read before blaming it.
            again = self.connect.describe_contact(contact.id)
            gone = again.not_waiting_reason()
            if gone is None:
                raise
            return replace(
                base,
                outcome=Outcome.NOT_WAITING,
                reason=gone.value,
                detail="taken while routing: " + _why(again),
            )
        return replace(chosen_base, outcome=Outcome.ASSOCIATED, reason=chosen.source, detail=chosen.detail)

    def _fallback(
        self,
        base: Decision,
        contact: Contact,
        rule: RoutingRule,
        judged: list[CandidateVerdict],
        recheck: Recheck | None,
    ) -> Decision:
        """Nobody can take it now: the rule's fallback decides (wait, routing criteria, queue)."""
        first = judged[0].verdict.value if judged else "no_candidates"
        summary = "; ".join(f"{c.label}: {c.verdict.value}" for c in judged) or "no candidates"
        action = plan(rule, contact.id, self.options.instance_arn, contact.channel, recheck, self.clock())
        dry = " (dry run: not sent)" if self.options.dry_run else ""
        if isinstance(action, WaitAgain):
            if self.rechecks is None:
                log.error("wait fallback without a re-check queue (ROUTER_QUEUE_URL); leaving the contact to its queue")
                return replace(
                    base,
                    outcome=Outcome.NO_ELIGIBLE_AGENT,
                    reason="wait_unavailable",
                    fallback="queue",
                    detail=f"{summary} -> no ROUTER_QUEUE_URL to wait with; left with its queue",
                )
            if not self.options.dry_run:
                self.rechecks.schedule(action.recheck.to_message(), action.delay_seconds)
            step = rule.fallback[action.recheck.step].wait
            limit = step.max_seconds if step else 0
            return replace(
                base,
                outcome=Outcome.WAITING,
                reason=first,
                fallback="wait",
                attempt=action.recheck.attempt,
                waited_seconds=round(action.waited_seconds, 1),
                detail=f"{summary} -> re-check in {action.delay_seconds} s "
                f"(attempt {action.recheck.attempt}, waited {action.waited_seconds:.0f} s of {limit} s){dry}",
            )
        if isinstance(action, SetRoutingCriteria):
            groups = step_agents(action.spec, judged)
            if groups:
                return self._set_routing_criteria(base, contact, groups, action, summary, first)
            action = LeaveToQueue(action.waited_seconds, after_wait=action.waited_seconds > 0)
        waited = f" after waiting {action.waited_seconds:.0f} s" if action.after_wait else ""
        return replace(
            base,
            outcome=Outcome.NO_ELIGIBLE_AGENT,
            reason=first,
            fallback="queue",
            waited_seconds=round(action.waited_seconds, 1) if action.after_wait else None,
            attempt=recheck.attempt if recheck else None,
            detail=f"{summary} -> left with its queue{waited}",
        )

    def _set_routing_criteria(
        self,
        base: Decision,
        contact: Contact,
        agents: list[tuple[str, ...]],
        action: SetRoutingCriteria,
        summary: str,
        first: str,
    ) -> Decision:
        decided = replace(
            base,
            outcome=Outcome.ROUTING_CRITERIA_SET,
            reason=first,
            fallback="routing_criteria",
            routing_steps=tuple(agents),
            routing_step_seconds=action.spec.expiry_seconds,
            waited_seconds=round(action.waited_seconds, 1) if action.waited_seconds else None,
            detail=f"{summary} -> Connect prefers {len(agents)} step(s) of {action.spec.expiry_seconds} s, "
            "then the whole queue" + (" (dry run: not sent)" if self.options.dry_run else ""),
        )
        if self.options.dry_run:
            return decided
        try:
            self.connect.update_routing_criteria(contact.id, routing_steps(agents, action.spec.expiry_seconds))
        except PermanentError as exc:
            if exc.reason != "conflict":
                raise
            again = self.connect.describe_contact(contact.id)
            gone = again.not_waiting_reason()
            if gone is not None:
                return replace(
                    base, outcome=Outcome.NOT_WAITING, reason=gone.value, detail="taken while routing: " + _why(again)
                )
            return replace(
                base,
                outcome=Outcome.NO_ELIGIBLE_AGENT,
                reason="routing_criteria_conflict",
                fallback="queue",
                detail=f"{summary} -> Connect refused the routing criteria ({exc.message}); left with its queue",
            )
        return decided

    def _collect_candidates(self, rule: RoutingRule, contact: Contact) -> list[CandidateVerdict]:
        excluded = self._excluded_ids(rule)
        seen: set[str] = set()
        out: list[CandidateVerdict] = []
        history: list[CustomerHistory] = []  # looked up at most once per contact, only if a source needs it
        for source in rule.candidates:
            for found in self._from_source(source, contact, history):
                user_id = found.user_id
                if user_id is None or found.verdict is not Verdict.ELIGIBLE:
                    out.append(found)
                elif user_id in excluded:
                    out.append(replace(found, verdict=Verdict.EXCLUDED, detail="in exclude_users"))
                elif user_id in seen:
                    out.append(replace(found, verdict=Verdict.DUPLICATE, detail="already a candidate"))
                else:
                    seen.add(user_id)
                    out.append(found)
        return out

    def _from_source(
        self, source: CandidateSource, contact: Contact, history: list[CustomerHistory]
    ) -> list[CandidateVerdict]:
        label = source.label
        if source.last_agent is not None or source.owner is not None:
            return [self._from_history(source, contact, history)]
        if source.attribute is not None:
            value = contact.attributes.get(source.attribute)
            if not value:
                return [CandidateVerdict(label, Verdict.SOURCE_EMPTY, detail="attribute not set")]
            return [self._resolve(label, value)]
        if source.agent_of is not None:
            other_id = contact.related_contact_id if source.agent_of == "related" else contact.previous_contact_id
            if not other_id:
                return [CandidateVerdict(label, Verdict.SOURCE_EMPTY, detail=f"no {source.agent_of} contact")]
            try:
                other = self.connect.describe_contact(other_id)
            except PermanentError as exc:
                if exc.reason != "unknown_contact":
                    raise
                return [CandidateVerdict(label, Verdict.SOURCE_EMPTY, detail=f"{source.agent_of} contact not found")]
            if not other.agent_id:
                return [CandidateVerdict(label, Verdict.NO_AGENT, detail=f"{source.agent_of} contact had no agent")]
            return [self._resolve(label, other.agent_id)]
        return [self._resolve(label, ref) for ref in source.users or []]

    def _from_history(
        self, source: CandidateSource, contact: Contact, history: list[CustomerHistory]
    ) -> CandidateVerdict:
        """last_agent / owner: what the affinity table says about this customer, and why it is (not) used."""
        label = source.label
        if self.history is None:
            return CandidateVerdict(label, Verdict.SOURCE_EMPTY, detail="no customer history (AFFINITY_TABLE unset)")
        if not history:
            history.append(self.history.for_contact(contact))
        found = history[0]
        if not found.keys:
            return CandidateVerdict(label, Verdict.SOURCE_EMPTY, detail="no customer key on this contact")
        if source.owner is not None:
            owner = found.owner()
            if owner is None:
                return CandidateVerdict(label, Verdict.SOURCE_EMPTY, detail="no owner for this customer")
            return replace(
                self._resolve(f"owner:{owner[0].value}", owner[1].owner_id), source=f"owner:{owner[0].value}"
            )
        newest = found.newest_last_agent()
        if newest is None:
            return CandidateVerdict(label, Verdict.SOURCE_EMPTY, detail="no last agent recorded for this customer")
        kind, last = newest
        age = max(0.0, self.clock() - last.connected_at)
        max_age = source.last_agent.max_age if source.last_agent else 0
        where = f"last_agent:{kind.value}, {_ago(age)} ago on {last.channel}"
        if age > max_age:
            return CandidateVerdict(
                where, Verdict.TOO_OLD, user_id=last.agent_id, detail=f"older than the rule's max_age {_ago(max_age)}"
            )
        return self._resolve(where, last.agent_id)

    def _resolve(self, source: str, raw: str) -> CandidateVerdict:
        ref = classify(raw)
        if ref.kind is ReferenceKind.INVALID:
            return CandidateVerdict(source, Verdict.INVALID_REFERENCE, detail=ref.value)
        if ref.kind is ReferenceKind.USERNAME:
            user = self.users.find_by_username(ref.value)
            if user is None:
                return CandidateVerdict(source, Verdict.UNKNOWN_USER, reference=ref.value, detail="no such username")
        else:
            arn = raw.strip() if ref.kind is ReferenceKind.ARN else f"{self.options.instance_arn}/agent/{ref.value}"
            user = UserRef(id=ref.value, arn=arn)
        if not arn_allowed(user.arn, self.options.allowed_agent_arn_pattern):
            return CandidateVerdict(
                source,
                Verdict.NOT_ALLOWED,
                user_id=user.id,
                username=user.username,
                detail="outside allowed agents",
            )
        return CandidateVerdict(source, Verdict.ELIGIBLE, user_id=user.id, username=user.username)

    def _excluded_ids(self, rule: RoutingRule) -> set[str]:
        ids: set[str] = set()
        for raw in rule.exclude_users:
            resolved = self._resolve("exclude", raw)
            if resolved.user_id:
                ids.add(resolved.user_id)
        return ids


def _ago(seconds: float) -> str:
    if seconds >= 86_400:
        return f"{seconds / 86_400:.1f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min"


def _why(contact: Contact) -> str:
    if contact.disconnected_at:
        return "customer disconnected"
    if contact.connected_to_agent_at:
        return f"connected to agent {contact.agent_id}"
    if contact.agent_id:
        return f"already assigned to agent {contact.agent_id}"
    return "not in a queue"
