"""The routing use case: from a parsed QUEUED event to an association (or a reasoned non-association).

Order of work, cheapest and safest first:
1. screen the event (no API call): event type, channel, monitor legs, agent replies, agent queues;
2. claim the routing episode (contact + enqueue time, routing/episodes.py): one conditional write; a
   duplicate is settled here, before any Connect call;
3. DescribeContact: is it still waiting, and still the same queuing? (events arrive late and out of order);
4. first matching rule (pure; GetContactAttributes first, only when DescribeContact had no Attributes key
   and a rule needs them: routing/attributes.py);
5. resolve candidates (routing/candidates), one GetCurrentUserData for all of them, choose,
   AssociateContactWithUser (skipped in dry run) as the claim allows;
6. nobody can take it: the rule's fallback (wait, park, routing criteria, queue).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from contact_router.errors import ContactRouterError, OutcomeUnknown, PermanentError, TransientError
from contact_router.models.agent import MAX_AGENTS_PER_CALL
from contact_router.models.contact import Contact
from contact_router.models.contact_event import ContactEventDetail
from contact_router.models.decision import CandidateVerdict, Decision, Outcome, Verdict, evolve
from contact_router.observability import logger
from contact_router.routing.attributes import with_attributes
from contact_router.routing.batch import BatchPrefetch, Prepared, SharedAgentStates
from contact_router.routing.candidates import Lookup, collect
from contact_router.routing.eligibility import judge, not_in_queue, profiles_to_check
from contact_router.routing.episodes import Claim, Delivery, Guard, Hold, episode_key, lease_until, same_queuing
from contact_router.routing.fallback import (
    PREFERABLE,
    LeaveToQueue,
    Park,
    Recheck,
    SetRoutingCriteria,
    WaitAgain,
    choose_fallback,
    park_owner,
    park_token,
    routing_steps,
    seconds_until_due,
    step_agents,
    waiting_for,
)
from contact_router.routing.ports import (
    ConnectPort,
    EpisodePort,
    HistoryPort,
    RecheckPort,
    RulesProviderPort,
    UserDirectoryPort,
)
from contact_router.routing.preference import preference
from contact_router.routing.refusal import after_refusal
from contact_router.routing.screening import screen_contact, screen_event
from contact_router.rules.matcher import first_match
from contact_router.rules.model import RoutingRule

# A re-check reads the contact when an awaited agent is free, and on every third attempt whatever the agents.
READ_CONTACT_EVERY = 3


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
        rechecks: RecheckPort | None = None,
        clock: Callable[[], float] = time.time,
        history: HistoryPort | None = None,
        source_ports: Mapping[str, Any] | None = None,
        episodes: EpisodePort | None = None,
    ) -> None:
        self.options = options
        self.connect = connect
        self.users = users
        self.rules = rules
        self.rechecks = rechecks
        self.clock = clock
        self.history = history
        self.source_ports = dict(source_ports or {})
        self.episodes = episodes

    # ----------------------------------------------------------------------------------------- entry
    def route(
        self,
        event: ContactEventDetail,
        recheck: Recheck | None = None,
        prefetched: BatchPrefetch | None = None,
        delivery: Delivery | None = None,
    ) -> Decision:
        base = Decision(
            outcome=Outcome.IGNORED,
            contact_id=event.contact_id,
            channel=event.channel,
            event_type=event.event_type,
            queue_id=event.queue_info.queue_id if event.queue_info else None,
            dry_run=self.options.dry_run,
        )
        if event.instance_arn.lower() != self.options.instance_arn.lower():
            # Before anything else: another instance's events (or re-checks) are never routed nor passed on.
            raise PermanentError(
                "other_instance",
                f"event for instance {event.instance_arn[:256]}; this deployment serves {self.options.instance_arn}",
            )
        skip = screen_event(event, self.options.route_voice)
        if skip:
            return evolve(base, reason=skip.reason, detail=skip.detail)
        if (
            recheck is not None
            and (remaining := seconds_until_due(recheck, self.clock())) is not None
            and self.rechecks
        ):
            # A wait longer than SQS's 15-minute delay arrives in hops: pass it on, no API call.
            self.rechecks.schedule(recheck.to_message(), remaining)
            return evolve(
                base,
                outcome=Outcome.WAITING,
                fallback="wait",
                attempt=recheck.attempt,
                reason="hop",
                detail=f"long wait: next hop in {remaining} s",
            )

        if _asks_agents_first(recheck):
            # Cheapest first: is any awaited agent free now? Only then is the contact read (DescribeContact).
            assert recheck is not None
            still = self._still_unavailable(base, recheck, prefetched.agents if prefetched else None)
            if still is not None:
                return still
        claim = prefetched.claims.pop(delivery.message_id, None) if prefetched and delivery else None
        queued_at = _queued_at(event, recheck)
        if claim is None and queued_at is not None:
            claim = self.claim(event.contact_id, queued_at, recheck, delivery)
        if claim is not None and (settled := self._settled(base, claim)) is not None:
            return settled
        earlier: Claim | None = None  # the event's own episode, when DescribeContact shows another queuing
        try:
            prepared = prefetched.take(event.contact_id) if prefetched is not None else None
            contact = prepared.contact if prepared else self.connect.describe_contact(event.contact_id)
            if claim is None:  # an event without queueInfo.enqueueTimestamp: the episode is known from here
                claim = self.claim(contact.id, contact.enqueued_at, recheck, delivery)
                if (settled := self._settled(base, claim)) is not None:
                    return settled
            elif not same_queuing(queued_at, contact.enqueued_at) and not contact.not_waiting_reason():
                if recheck is not None:
                    # The wait's queuing is over: the contact was queued again, and that queuing has its own event.
                    return evolve(
                        base,
                        outcome=Outcome.NOT_WAITING,
                        channel=contact.channel,
                        reason="queued_again",
                        detail="the wait's queuing is over; the contact was queued again (its own event routes it)",
                    )
                # The event names another queuing than the one DescribeContact shows (a late event, or timestamps
                # that differ): the queuing the contact is in is claimed too, so this event and that queuing's own
                # event cannot both act on it. (A second write, on this path only.)
                earlier, claim = claim, self.claim(contact.id, contact.enqueued_at, recheck, delivery)
                if (settled := self._settled(base, claim)) is not None:
                    return settled
            agents = prefetched.agents if prefetched else None
            return self.decide(contact, base, recheck, prepared=prepared, agents=agents, claim=claim)
        except ContactRouterError as exc:
            # Given back: the retry of a transient failure starts afresh, and a copy of a message rejected
            # here (a contact that does not exist) meets the same rejection instead of a Duplicate.
            self._give_back(claim, exc)
            self._give_back(earlier, exc)
            raise

    def _still_unavailable(self, base: Decision, recheck: Recheck, agents: SharedAgentStates | None) -> Decision | None:
        """A re-check whose awaited agents are all still unable to take the contact, and whose wait goes on:
        the next re-check is scheduled from GetCurrentUserData alone (None: read the contact and decide)."""
        rule = next((r for r in self.rules.current().routing if r.name == recheck.rule), None)
        if rule is None or self.rechecks is None:
            return None
        ids = list(recheck.candidates)
        states = agents.view(ids) if agents is not None and agents.covers(ids) else self.connect.current_user_data(ids)
        judged = judge(
            [CandidateVerdict("awaited", Verdict.ELIGIBLE, user_id=i) for i in ids], states, rule, recheck.channel
        )
        if any(c.verdict is Verdict.CHOSEN for c in judged):
            return None
        # has_owner: the awaited agents are real users, so a park step after the wait is taken on the full path.
        action = choose_fallback(
            rule, recheck.contact_id, self.options.instance_arn, recheck.channel, recheck, self.clock(), has_owner=True
        )
        if not isinstance(action, WaitAgain):
            return None  # the wait is over: the next step needs the contact
        chained = replace(
            action.recheck,
            owner=recheck.owner,
            enqueued_at=recheck.enqueued_at,
            candidates=recheck.candidates,
            episode=recheck.episode,
        )
        if not self.options.dry_run:
            self.rechecks.schedule(chained.to_message(), action.delay_seconds)
        summary = "; ".join(f"{c.label}: {c.verdict.value}" for c in judged)
        return evolve(
            base,
            outcome=Outcome.WAITING,
            rule=rule.name,
            candidates=tuple(judged),
            reason=judged[0].verdict.value if judged else "no_candidates",
            fallback="wait",
            attempt=chained.attempt,
            waited_seconds=round(action.waited_seconds, 1),
            detail=f"{summary} -> still nobody free (contact not read); re-check in {action.delay_seconds} s "
            f"(attempt {chained.attempt}, waited {action.waited_seconds:.0f} s)",
        )

    def claim(
        self, contact_id: str, queued_at: datetime | None, recheck: Recheck | None, delivery: Delivery | None
    ) -> Claim:
        """This delivery's hold on the routing episode: one conditional write for an event, none for a re-check."""
        episode = episode_key(contact_id, queued_at, dry_run=self.options.dry_run)
        if self.episodes is None:
            return Claim(Hold.UNGUARDED, episode)
        if recheck is not None:
            return Claim(Hold.CHAIN, recheck.episode or episode, recheck.owner)
        owner = delivery.message_id if delivery and delivery.message_id else f"unnamed-{uuid.uuid4()}"
        return self.episodes.claim(episode, owner, lease_until(self.clock(), delivery))

    def abandon(self, delivery: Delivery, prefetched: BatchPrefetch | None) -> None:
        """A record the time budget hands back to SQS unstarted: its prefetched claim goes back with it."""
        claim = prefetched.claims.pop(delivery.message_id, None) if prefetched else None
        if claim is not None and claim.hold is Hold.FRESH and self.episodes is not None:
            self.episodes.release(claim.episode, claim.owner)

    def _settled(self, base: Decision, claim: Claim) -> Decision | None:
        """A claim that ends the record here, before any Connect call (or None: go on)."""
        if claim.hold is Hold.IN_PROGRESS:
            raise TransientError("in_progress", "the same message is being handled by a live invocation")
        if claim.hold is not Hold.TAKEN:
            return None
        return evolve(
            base,
            outcome=Outcome.DUPLICATE,
            replayed=True,
            reason="already_claimed",
            detail=f"another delivery ({(claim.holder or '?')[:80]}) owns this routing episode"
            + (f" since {claim.claimed_at:.0f}" if claim.claimed_at else "")
            + "; nothing done",
        )

    def _give_back(self, claim: Claim | None, exc: ContactRouterError) -> None:
        """A failed record: a fresh claim goes back, so the retry (or a duplicate) starts afresh -- unless an
        AssociateContactWithUser may have reached Connect (then the retry resumes, and never associates)."""
        if claim is None or claim.hold is not Hold.FRESH or self.episodes is None or isinstance(exc, OutcomeUnknown):
            return
        try:
            self.episodes.release(claim.episode, claim.owner)
        except TransientError:
            logger.warning("episode claim not given back; it expires with the invocation", reason=exc.reason)

    def prefetch_batch(
        self, items: Iterable[tuple[ContactEventDetail, Recheck | None, Delivery | None]]
    ) -> BatchPrefetch:
        """Read-only first pass over a batch (after each record's episode claim), then one GetCurrentUserData
        for every candidate in it.

        Anything that cannot be prepared here (ignored events, hops, duplicates, errors) is simply left out:
        those records take the ordinary per-record path, with its own error handling.
        """
        batch = BatchPrefetch()
        for event, recheck, delivery in items:
            try:
                self._prefetch_one(batch, event, recheck, delivery)
            except ContactRouterError as exc:
                batch.failed[event.contact_id] = exc  # raised on the record's own path, with its policy
            except (ArithmeticError, ValueError, TypeError, LookupError) as exc:
                # One odd record never costs the others their shared first pass: it is left out here and
                # meets the same problem on its own path, where the per-record policy handles it.
                logger.warning("record left out of the batch prefetch", error=type(exc).__name__)
        wanted = list(
            dict.fromkeys(
                [
                    *(
                        c.user_id
                        for p in batch.prepared.values()
                        for c in p.candidates
                        if c.verdict is Verdict.ELIGIBLE and c.user_id
                    ),
                    *batch.awaited,
                ]
            )
        )[:MAX_AGENTS_PER_CALL]
        if wanted:
            try:
                batch.agents.states.update(self.connect.current_user_data(wanted))
                batch.agents.covered.update(wanted)
            except ContactRouterError as exc:
                batch.agents.error = exc
        return batch

    def _prefetch_one(
        self, batch: BatchPrefetch, event: ContactEventDetail, recheck: Recheck | None, delivery: Delivery | None
    ) -> None:
        if event.contact_id in batch.prepared or screen_event(event, self.options.route_voice):
            return
        if recheck is not None and seconds_until_due(recheck, self.clock()) is not None:
            return
        if event.instance_arn.lower() != self.options.instance_arn.lower():
            return
        if _asks_agents_first(recheck):
            assert recheck is not None
            batch.awaited.extend(recheck.candidates)  # asked about in the batch's one GetCurrentUserData
            return
        queued_at = _queued_at(event, recheck)
        if self.episodes is not None:
            if queued_at is None or delivery is None:
                return  # the episode is known only after DescribeContact: claimed on the record's own path
            claim = self.claim(event.contact_id, queued_at, recheck, delivery)
            batch.claims[delivery.message_id] = claim
            if claim.hold in (Hold.TAKEN, Hold.IN_PROGRESS):
                return  # settled on the record's own path, with no Connect call
        contact = self.connect.describe_contact(event.contact_id)
        if screen_contact(contact, self.options.route_voice) or contact.not_waiting_reason():
            batch.prepared[contact.id] = Prepared(contact, None)
            return
        routing_rules = self.rules.current().routing
        contact = with_attributes(contact, routing_rules, self.connect)
        rule = first_match(routing_rules, contact)
        candidates = tuple(collect(rule, contact, self._lookup())) if rule else ()
        batch.prepared[contact.id] = Prepared(contact, rule, candidates)

    def decide(
        self,
        contact: Contact,
        base: Decision | None = None,
        recheck: Recheck | None = None,
        *,
        prepared: Prepared | None = None,
        agents: SharedAgentStates | None = None,
        claim: Claim | None = None,
    ) -> Decision:
        """Everything after DescribeContact: screening, waiting check, rules, candidates, association."""
        base = evolve(
            base or Decision(outcome=Outcome.IGNORED, contact_id=contact.id, event_type="QUEUED"),
            channel=contact.channel,
            queue_id=contact.queue_id or (base.queue_id if base else None),
            dry_run=self.options.dry_run,
        )
        skip = screen_contact(contact, self.options.route_voice)
        if skip:
            return evolve(base, reason=skip.reason, detail=skip.detail)
        not_waiting = contact.not_waiting_reason()
        if not_waiting:
            return evolve(base, outcome=Outcome.NOT_WAITING, reason=not_waiting.value, detail=_why(contact))

        if prepared:
            rule = prepared.rule
        else:
            routing_rules = self.rules.current().routing
            contact = with_attributes(contact, routing_rules, self.connect)
            rule = first_match(routing_rules, contact)
        base = evolve(base, rules_source=self.rules.source, rules_version=self.rules.version)
        if rule is None:
            return evolve(base, outcome=Outcome.NO_RULE_MATCHED, reason="no_rule_matched", detail="left with its queue")
        base = evolve(base, rule=rule.name)
        if claim is not None and claim.hold is Hold.RESUMED:
            # The attempt that died holding this claim may have associated just before: never a second try.
            return evolve(
                base,
                outcome=Outcome.NO_ELIGIBLE_AGENT,
                reason="resumed_after_failure",
                fallback="queue",
                detail="an earlier attempt of this message ended mid-way (it may have associated): left with its "
                "queue, not tried again",
            )
        candidates = prepared.candidates if prepared else None
        claim = claim or Claim(Hold.UNGUARDED, episode_key(contact.id, contact.enqueued_at))
        return self._decide_and_act(base, contact, rule, recheck, candidates, agents, claim)

    # -------------------------------------------------------------------------------- decide and act
    def _decide_and_act(
        self,
        base: Decision,
        contact: Contact,
        rule: RoutingRule,
        recheck: Recheck | None,
        prepared_candidates: tuple[CandidateVerdict, ...] | None,
        agents: SharedAgentStates | None,
        claim: Claim,
    ) -> Decision:
        judged = self._judged(contact, rule, prepared_candidates, agents)
        base = evolve(base, candidates=tuple(judged))
        chosen = next((c for c in judged if c.verdict is Verdict.CHOSEN), None)
        if chosen is None or chosen.user_id is None:
            return self._fallback(base, contact, rule, judged, recheck, claim)
        if recheck is not None:
            waited = round(self.clock() - recheck.step_started_at, 1)
            base = evolve(base, fallback="wait", attempt=recheck.attempt, waited_seconds=waited)
        chosen_base = evolve(base, agent_id=chosen.user_id, agent_username=chosen.username)
        if self.options.dry_run:
            return evolve(chosen_base, outcome=Outcome.WOULD_ASSOCIATE, reason="dry_run", detail=chosen.detail)
        # One attempt per routing episode, whatever the number of re-check chains, duplicates or redeliveries:
        # a fresh claim is this delivery's alone; any other path takes the episode's association guard first.
        token = f"{claim.owner or 'chain'}#{recheck.step if recheck else '-'}#{recheck.attempt if recheck else '-'}"
        guarded = not claim.may_associate_unguarded and self.episodes is not None
        guard = (
            self.episodes.guard_association(claim.episode, claim.owner or None, token)
            if guarded and self.episodes is not None
            else Guard.WON
        )
        if guard is Guard.AGAIN:
            # This same re-check tried before and Connect's answer was lost (timeout, 5xx): not tried again.
            return evolve(
                base,
                outcome=Outcome.NO_ELIGIBLE_AGENT,
                reason="resumed_after_failure",
                fallback="queue",
                detail="this re-check's earlier association attempt ended without Connect's answer (it may have "
                "associated): left with its queue, not tried again",
            )
        if guard is Guard.TAKEN:
            return evolve(
                base,
                outcome=Outcome.DUPLICATE,
                replayed=True,
                reason="association_claimed",
                detail="another attempt already made this routing episode's association; not tried again",
            )
        try:
            self._associate(contact.id, chosen.user_id, claim.episode if guarded else None, token)
            if agents is not None:
                agents.take_slot(chosen.user_id, contact.channel)
        except PermanentError as exc:
            # The contact may have been taken or ended between our check and the call: re-read before blaming it.
            moved = after_refusal(exc, "AssociateContactWithUser", contact.id, self.connect.describe_contact, _gone)
            return evolve(
                base,
                outcome=Outcome.NOT_WAITING,
                reason=moved.reason,
                detail=f"taken while routing ({exc.reason}): " + _why(moved.contact),
            )
        return evolve(chosen_base, outcome=Outcome.ASSOCIATED, reason=chosen.source, detail=chosen.detail)

    def _judged(
        self,
        contact: Contact,
        rule: RoutingRule,
        prepared_candidates: tuple[CandidateVerdict, ...] | None = None,
        agents: SharedAgentStates | None = None,
    ) -> list[CandidateVerdict]:
        """The rule's candidates (routing/candidates), each judged against one GetCurrentUserData."""
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
        # Before the contact is queued (the flow's question) there is no queue to check membership against.
        profiles = profiles_to_check(candidates, states, rule) if contact.queue_id else []
        memberships = {profile: self.connect.routing_profile_queues(profile) for profile in profiles}
        return judge(candidates, states, rule, contact.channel, contact.queue_id, memberships)

    # ------------------------------------------------------------------------------ flow entry point
    def prefer(self, contact: Contact) -> Decision:
        """The contact flow's question, before the contact is queued: which agents should Connect prefer?

        Same screening (voice included: routing criteria work on every channel), rules, candidate sources and
        eligibility as ``route``; no idempotency guard and no Connect write (the flow sets the routing
        criteria from the answer). The decision carries the steps (routing/preference.py).
        """
        base = Decision(
            outcome=Outcome.IGNORED,
            contact_id=contact.id,
            channel=contact.channel,
            event_type="FLOW",
            queue_id=contact.queue_id,
            dry_run=self.options.dry_run,
        )
        skip = screen_contact(contact, route_voice=True)
        if skip:
            return evolve(base, reason=skip.reason, detail=skip.detail)
        rule = first_match(self.rules.current().routing, contact)
        if rule is None:
            return evolve(base, outcome=Outcome.NO_RULE_MATCHED, reason="no_rule_matched", detail="no preference")
        judged = self._judged(contact, rule)
        summary = "; ".join(f"{c.label}: {c.verdict.value}" for c in judged) or "no candidates"
        chosen = preference(rule, judged)
        decided = evolve(base, rule=rule.name, candidates=tuple(judged))
        if not chosen.steps:
            first = judged[0].verdict.value if judged else "no_candidates"
            return evolve(
                decided, outcome=Outcome.NO_ELIGIBLE_AGENT, reason=first, detail=f"{summary} -> no preference"
            )
        return evolve(
            decided,
            outcome=Outcome.PREFERRED,
            reason="available" if chosen.available else "busy",
            routing_steps=chosen.steps,
            routing_step_seconds=chosen.step_seconds,
            detail=f"{summary} -> the flow prefers {len(chosen.steps)} step(s) of {chosen.step_seconds} s, "
            "then the whole queue",
        )

    def _associate(self, contact_id: str, user_id: str, guarded_episode: str | None, token: str) -> None:
        try:
            self.connect.associate(contact_id, user_id)
        except PermanentError:
            # Connect refused the attempt (nothing associated): a guard goes back, so a later re-check may try.
            if guarded_episode is not None and self.episodes is not None:
                self.episodes.release_association(guarded_episode, token)
            raise
        except TransientError as exc:
            # Throttled: not applied. Anything else (timeout, 5xx) may have reached Connect: the claim is kept,
            # so the retry resumes and never associates a second time.
            if exc.reason != "throttled":
                raise OutcomeUnknown(exc.reason, exc.message) from exc
            if guarded_episode is not None and self.episodes is not None:
                self.episodes.release_association(guarded_episode, token)
            raise

    def _fallback(
        self,
        base: Decision,
        contact: Contact,
        rule: RoutingRule,
        judged: list[CandidateVerdict],
        recheck: Recheck | None,
        claim: Claim,
    ) -> Decision:
        """Nobody can take it now: the rule's fallback decides (wait, routing criteria, queue)."""
        first = judged[0].verdict.value if judged else "no_candidates"
        summary = "; ".join(f"{c.label}: {c.verdict.value}" for c in judged) or "no candidates"
        owner = park_owner(judged)
        action = choose_fallback(
            rule, contact.id, self.options.instance_arn, contact.channel, recheck, self.clock(), has_owner=bool(owner)
        )
        dry = " (dry run: not sent)" if self.options.dry_run else ""
        if isinstance(action, WaitAgain):
            if self.rechecks is None:
                logger.error(
                    "wait fallback without a re-check queue (ROUTER_QUEUE_URL); leaving the contact to its queue"
                )
                return evolve(
                    base,
                    outcome=Outcome.NO_ELIGIBLE_AGENT,
                    reason="wait_unavailable",
                    fallback="queue",
                    detail=f"{summary} -> no ROUTER_QUEUE_URL to wait with; left with its queue",
                )
            # The chain carries its episode: its owner, and the queuing it waits in.
            chained = replace(
                action.recheck,
                owner=claim.owner,
                enqueued_at=contact.enqueued_at.timestamp() if contact.enqueued_at else 0.0,
                candidates=waiting_for(judged, MAX_AGENTS_PER_CALL),
                episode=claim.episode,
            )
            if not self.options.dry_run:
                self.rechecks.schedule(chained.to_message(), action.delay_seconds)
            step = rule.fallback[action.recheck.step].wait
            limit = step.max_seconds if step else 0
            return evolve(
                base,
                outcome=Outcome.WAITING,
                reason=first,
                fallback="wait",
                attempt=action.recheck.attempt,
                waited_seconds=round(action.waited_seconds, 1),
                detail=f"{summary} -> re-check in {action.delay_seconds} s "
                f"(attempt {action.recheck.attempt}, waited {action.waited_seconds:.0f} s of {limit} s){dry}",
            )
        if isinstance(action, Park):
            if owner:  # always: choose_fallback parks only when there is an owner
                return self._park(base, contact, owner, action, summary, first)
            action = LeaveToQueue(action.waited_seconds, after_wait=action.waited_seconds > 0)
        if isinstance(action, SetRoutingCriteria):
            judged = self._members_only(judged, contact)
            base = evolve(base, candidates=tuple(judged))
            summary = "; ".join(f"{c.label}: {c.verdict.value}" for c in judged) or "no candidates"
            groups = step_agents(action.spec, judged)
            if groups:
                return self._set_routing_criteria(base, contact, groups, action, summary, first)
            action = LeaveToQueue(action.waited_seconds, after_wait=action.waited_seconds > 0)
        waited = f" after waiting {action.waited_seconds:.0f} s" if action.after_wait else ""
        return evolve(
            base,
            outcome=Outcome.NO_ELIGIBLE_AGENT,
            reason=first,
            fallback="queue",
            waited_seconds=round(action.waited_seconds, 1) if action.after_wait else None,
            attempt=recheck.attempt if recheck else None,
            detail=f"{summary} -> left with its queue{waited}",
        )

    def _park(self, base: Decision, contact: Contact, owner: str, action: Park, summary: str, first: str) -> Decision:
        """The work belongs to ``owner``: TransferContact to their own queue, through the rule's flow."""
        dry = " (dry run: not sent)" if self.options.dry_run else ""
        decided = evolve(
            base,
            outcome=Outcome.PARKED,
            reason=first,
            fallback="park",
            agent_id=owner,
            waited_seconds=round(action.waited_seconds, 1) if action.waited_seconds else None,
            detail=f"{summary} -> parked in the agent's own queue (flow {action.spec.contact_flow_id}){dry}",
        )
        if self.options.dry_run:
            return decided
        token = park_token(contact.id, owner, action.spec.contact_flow_id)
        try:
            self.connect.transfer_to_agent(contact.id, owner, action.spec.contact_flow_id, token)
        except PermanentError as exc:
            if exc.reason not in ("invalid_request", "quota_exceeded"):
                raise
            # Not active any more (taken, ended) or transferred too often (11): re-read before deciding.
            again = self.connect.describe_contact(contact.id)
            gone = again.not_waiting_reason()
            if gone is not None:
                return evolve(
                    base, outcome=Outcome.NOT_WAITING, reason=gone.value, detail="taken while routing: " + _why(again)
                )
            return evolve(
                base,
                outcome=Outcome.NO_ELIGIBLE_AGENT,
                reason="park_refused",
                fallback="queue",
                detail=f"{summary} -> Connect refused the transfer ({exc.message}); left with its queue",
            )
        return decided

    def _set_routing_criteria(
        self,
        base: Decision,
        contact: Contact,
        agents: list[tuple[str, ...]],
        action: SetRoutingCriteria,
        summary: str,
        first: str,
    ) -> Decision:
        decided = evolve(
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
            try:
                moved = after_refusal(exc, "UpdateContactRoutingData", contact.id, self.connect.describe_contact, _gone)
            except PermanentError as still_waiting:
                if still_waiting is not exc or exc.reason != "conflict":
                    raise
            else:
                return evolve(
                    base,
                    outcome=Outcome.NOT_WAITING,
                    reason=moved.reason,
                    detail=f"taken while routing ({exc.reason}): " + _why(moved.contact),
                )
            return evolve(
                base,
                outcome=Outcome.NO_ELIGIBLE_AGENT,
                reason="routing_criteria_conflict",
                fallback="queue",
                detail=f"{summary} -> Connect refused the routing criteria ({exc.message}); left with its queue",
            )
        return decided

    def _members_only(self, judged: list[CandidateVerdict], contact: Contact) -> list[CandidateVerdict]:
        """Connect offers a routing-criteria contact only to agents whose routing profile has its queue
        (AgentsCriteria): candidates not judged on membership yet (not logged in, so GetCurrentUserData gave no
        routing profile) are checked through DescribeUser, and non-members leave the steps."""
        if contact.queue_id is None:
            return judged
        return [self._as_member(candidate, contact.queue_id, contact.channel) for candidate in judged]

    def _as_member(self, candidate: CandidateVerdict, queue_id: str, channel: str) -> CandidateVerdict:
        if candidate.verdict not in PREFERABLE or not candidate.user_id or candidate.in_queue is True:
            return candidate
        profile = None
        if candidate.in_queue is None:
            profile = self.connect.routing_profile_of(candidate.user_id)
            if profile is not None and self.connect.routing_profile_queues(profile).serves(queue_id, channel):
                return replace(candidate, in_queue=True)
        return not_in_queue(candidate, queue_id, channel, profile)

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


def _asks_agents_first(recheck: Recheck | None) -> bool:
    """A re-check that knows the agents it waits for asks about them before reading the contact -- except every
    READ_CONTACT_EVERY-th one, which reads it anyway, so a chain ends soon after the contact is gone."""
    return recheck is not None and bool(recheck.candidates) and recheck.attempt % READ_CONTACT_EVERY != 0


def _queued_at(event: ContactEventDetail, recheck: Recheck | None) -> datetime | None:
    """The enqueue time naming the record's episode: the re-check's own, else the event's queueInfo."""
    if recheck is not None:
        return datetime.fromtimestamp(recheck.enqueued_at, UTC) if recheck.enqueued_at else None
    return event.queue_info.enqueue_timestamp if event.queue_info else None


def _gone(contact: Contact) -> str | None:
    reason = contact.not_waiting_reason()
    return reason.value if reason else None


def _why(contact: Contact) -> str:
    if contact.disconnected_at:
        return "customer disconnected"
    if contact.connected_to_agent_at:
        return f"connected to agent {contact.agent_id}"
    if contact.agent_id:
        return f"already assigned to agent {contact.agent_id}"
    return "not in a queue"
