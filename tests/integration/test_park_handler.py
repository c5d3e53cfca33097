"""The park fallback through the real router handler: emulated Connect (IAM mode: RouterFunctionRole from
template.yaml, connect:TransferContact included) moves the task to its busy owner's own queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.conftest import Harness, event

DANA = "33333333-0000-4000-8000-000000000001"
FLOW = "77777777-0000-4000-8000-000000000001"
RULES = f"""
version: 1
routing:
  - name: owned-task
    when: {{attributes: {{preferredAgent: {{present: true}}}}}}
    candidates: [{{attribute: preferredAgent}}]
    fallback:
      - park: {{contact_flow_id: {FLOW}}}
      - queue
"""


def queued_task(contact_id: str) -> dict[str, Any]:
    body = event("queued-chat-attribute.json")
    body["detail"]["contactId"] = contact_id
    body["detail"]["channel"] = "TASK"
    return body


def test_a_task_for_a_busy_agent_is_parked_in_that_agents_queue(harness: Harness, tmp_path: Path) -> None:
    # GIVEN a task for dana, whose task slots are all taken
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    emulator = harness.emulator
    emulator.set_busy("dana", "TASK", 2)
    task = emulator.add_contact(channel="TASK", state="QUEUED", queue="Support", attributes={"preferredAgent": "dana"})
    app = harness.app(RULES_FILE=str(rules))
    # WHEN its QUEUED event is handled twice (a redelivery)
    for _ in range(2):
        response = harness.invoke([harness.record(queued_task(task.id))], app=app)
        assert response == {"batchItemFailures": []}
    # THEN the task left Support for dana's own queue, through the rule's flow, exactly once
    moved = [c for c in emulator.contacts() if c.previous_contact_id == task.id]
    assert len(moved) == 1
    assert (moved[0].initiation_method, moved[0].state, moved[0].channel) == ("TRANSFER", "QUEUED", "TASK")
    assert moved[0].queue_id not in (None, task.queue_id)
    assert emulator.contact(task.id).state == "DISCONNECTED"
    assert harness.dead_letters() == []


def test_a_chat_with_the_same_rule_is_left_with_its_queue(harness: Harness, tmp_path: Path) -> None:
    # GIVEN a chat (TransferContact is for TASK and EMAIL) for dana, busy
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    emulator = harness.emulator
    emulator.set_busy("dana", "CHAT", 3)
    chat = emulator.add_contact(channel="CHAT", state="QUEUED", queue="Support", attributes={"preferredAgent": "dana"})
    body = event("queued-chat-attribute.json")
    body["detail"]["contactId"] = chat.id
    # WHEN it is routed THEN nothing is transferred: it stays in Support
    harness.invoke([harness.record(body)], app=harness.app(RULES_FILE=str(rules)))
    assert [c for c in emulator.contacts() if c.previous_contact_id == chat.id] == []
    assert emulator.contact(chat.id).queue_id == chat.queue_id
