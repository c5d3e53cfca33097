"""Decide once per key: the supervisor's idempotent replay (the router claims routing episodes instead,
routing/episodes.py).

A redelivered event whose key was already decided gets the first decision back, marked Duplicate (its
``replayed`` flag set), instead of a second call to Connect.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from contact_router.models.decision import Decision
from contact_router.models.supervision import SupervisionDecision
from contact_router.routing.ports import IdempotencyPort

D = TypeVar("D", Decision, SupervisionDecision)


def decide_once(
    idempotency: IdempotencyPort | None,
    key: Mapping[str, Any],
    decide: Callable[[], D],
    kind: type[D],
) -> D:
    """``decide()`` the first time ``key`` is seen; the stored first decision, as a Duplicate, after that."""
    if idempotency is None:
        return decide()
    record, replayed = idempotency.run(key, lambda: decide().to_record())
    decision = kind.from_record(record)
    if not replayed:
        return decision
    return replace(
        decision,
        outcome=type(decision.outcome).DUPLICATE,
        replayed=True,
        reason="already_decided",
        detail=f"redelivered event; first decision was {decision.outcome.value}",
    )
