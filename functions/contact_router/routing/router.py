"""The routing use case: from a parsed QUEUED event to an association (or a reasoned non-association).

Order of work, cheapest and safest first:
1. screen the event (no API call): event type, channel, monitor legs, agent replies, agent queues;
2. DescribeContact: is it still waiting? (events arrive late, out of order and more than once);
3. first matching rule (pure);
4. inside the idempotency guard (key: contact, queue, enqueue time): resolve candidates (routing/candidates),
   one GetCurrentUserData for all of them, choose, AssociateContactWithUser (skipped in dry run);
5. nobody can take it: the rule's fallback (wait, routing criteria, queue).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from contact_router.errors import ContactRouterError, PermanentError
from contact_router.models.agent import MAX_AGENTS_PER_CALL
from contact_router.models.contact import Contact
from contact_router.models.contact_event import ContactEventDetail
from contact_router.models.decision import CandidateVerdict, Decision, Outcome, Verdict
from contact_router.observability import logger
from contact_router.routing.batch import BatchPrefetch, Prepared, SharedAgentStates
from contact_router.routing.candidates import Lookup, collect
from contact_router.routing.eligibility import judge
from contact_router.routing.fallback import (
    LeaveToQueue,
    Recheck,
    SetRoutingCriteria,
    WaitAgain,
    choose_fallback,
    routing_steps,
    seconds_until_due,
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
from contact_router.routing.replay import decide_once
from contact_router.routing.screening import screen_contact, screen_event
from contact_router.rules.matcher import first_match
from contact_router.rules.model import RoutingRule


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
        source_ports: Mapping[str, Any] | None = None,
    ) -> None:
        self.options = options
        self.connect = connect
        self.users = users
        self.rules = rules
        self.idempotency = idempotency
        self.rechecks = rechecks
        self.clock = clock
        self.history = history
        self.source_ports = dict(source_ports or {})

    # ----------------------------------------------------------------------------------------- entry
    def route(
        self, event: ContactEventDetail, recheck: Recheck | None = None, prefetched: BatchPrefetch | None = None
    ) -> Decision:
        base = Decision(
            outcome=Outcome.IGNORED,
            contact_id=event.contact_id,
            channel=event.channel,
            event_type=event.event_type,
            queue_id=event.queue_info.queue_id if event.queue_info else None,
            dry_run=self.options.dry_run,
        )
        skip = screen_event(event, self.options.route_voice)
        if skip:
            return replace(base, reason=skip.reason, detail=skip.detail)
        if (
            recheck is not None
            and (remaining := seconds_until_due(recheck, self.clock())) is not None
            and self.rechecks
        ):
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
        if event.instance_arn.lower() != self.options.instance_arn.lower():
            raise PermanentError(
                "other_instance",
                f"event for instance {event.instance_arn}; this deployment serves {self.options.instance_arn}",
            )

        prepared = prefetched.take(event.contact_id) if prefetched is not None else None
        contact = prepared.contact if prepared else self.connect.describe_contact(event.contact_id)
        agents = prefetched.agents if prefetched else None
        return self.decide(contact, base, recheck, prepared=prepared, agents=agents)

    def prefetch_batch(self, items: Iterable[tuple[ContactEventDetail, Recheck | None]]) -> BatchPrefetch:
        """Read-only first pass over a batch, then one GetCurrentUserData for every candidate in it.

        Anything that cannot be prepared here (ignored events, hops, errors) is simply left out: those
        records take the ordinary per-record path, with its own error handling.
        """
        batch = BatchPrefetch()
        for event, recheck in items:
            if event.contact_id in batch.prepared or screen_event(event, self.options.route_voice):
                continue
            if recheck is not None and seconds_until_due(recheck, self.clock()) is not None:
                continue
            if event.instance_arn.lower() != self.options.instance_arn.lower():
                continue
            try:
                contact = self.connect.describe_contact(event.contact_id)
                if screen_contact(contact, self.options.route_voice) or contact.not_waiting_reason():
                    batch.prepared[contact.id] = Prepared(contact, None)
                    continue
                rule = first_match(self.rules.current().routing, contact)
                candidates = tuple(collect(rule, contact, self._lookup())) if rule else ()
            except ContactRouterError as exc:
                batch.failed[event.contact_id] = exc  # raised on the record's own path, with its policy
                continue
            batch.prepared[contact.id] = Prepared(contact, rule, candidates)
        wanted = list(
            dict.fromkeys(
                c.user_id
                for p in batch.prepared.values()
                for c in p.candidates
                if c.verdict is Verdict.ELIGIBLE and c.user_id
            )
        )[:MAX_AGENTS_PER_CALL]
        if wanted:
            try:
                batch.agents.states.update(self.connect.current_user_data(wanted))
                batch.agents.covered.update(wanted)
            except ContactRouterError as exc:
                batch.agents.error = exc
        return batch

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

        rule = prepared.rule if prepared else first_match(self.rules.current().routing, contact)
        if rule is None:
            return replace(
                base, outcome=Outcome.NO_RULE_MATCHED, reason="no_rule_matched", detail="left with its queue"
            )
        candidates = prepared.candidates if prepared else None
        base = replace(base, rule=rule.name)

        key = {
            "contact_id": contact.id,
            "queue_id": contact.queue_id,
            "enqueued_at": contact.enqueued_at.isoformat() if contact.enqueued_at else None,
            "dry_run": self.options.dry_run,
            # every re-check of a wait is its own decision
            "recheck": [recheck.step, recheck.attempt] if recheck else None,
        }
        return decide_once(
            self.idempotency,
            key,
            partial(self._decide_and_act, base, contact, rule, recheck, candidates, agents),
            Decision,
        )

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
            list(prepared_candidates) if prepared_candidates is not None else collect(rule, contact, self._lookup())
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
        action = choose_fallback(rule, contact.id, self.options.instance_arn, contact.channel, recheck, self.clock())
        dry = " (dry run: not sent)" if self.options.dry_run else ""
        if isinstance(action, WaitAgain):
            if self.rechecks is None:
                logger.error(
                    "wait fallback without a re-check queue (ROUTER_QUEUE_URL); leaving the contact to its queue"
                )
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

    def _lookup(self) -> Lookup:
        return Lookup(
            connect=self.connect,
            users=self.users,
            instance_arn=self.options.instance_arn,
            allowed_agent_arn_pattern=self.options.allowed_agent_arn_pattern,
            clock=self.clock,
            history=self.history,
            ports=self.source_ports,
        )


def _why(contact: Contact) -> str:
    if contact.disconnected_at:
        return "customer disconnected"
    if contact.connected_to_agent_at:
        return f"connected to agent {contact.agent_id}"
    if contact.agent_id:
        return f"already assigned to agent {contact.agent_id}"
    return "not in a queue"
