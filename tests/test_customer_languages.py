"""German and Arabic customers, end to end: the bot recognises their request for a person and their
goodbye, and every message the product sends them is in their language (handoff/catalogue)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from handoff import catalogue
from harness.clients import Recorder, agent_socket, http_json, queued_customer, sign_in
from harness.servers import free_port, serve_app

ASK_FOR_A_PERSON = {"de": "Ich möchte mit einem Menschen sprechen", "ar": "أريد التحدث إلى موظف"}
THANKS = {"de": "danke", "ar": "شكرا"}
GOODBYE = {"de": "Tschüss, danke", "ar": "مع السلامة"}


def system(kind: str | None = None, text: str | None = None) -> Any:
    return lambda m: m["sender"] == "system" and (kind is None or m["data"].get("kind") == kind) and (
        text is None or m["text"] == text)


@pytest.mark.parametrize("language", ["de", "ar"])
async def test_a_request_for_a_person_and_a_goodbye_are_recognised_and_answered_in_the_customers_language(
    app_url: str, language: str,
) -> None:
    """The widget's page is English; the customer writes German or Arabic (Rasa's NLU, the actions)."""
    say = lambda key, **values: catalogue.text(language, key, **values)  # noqa: E731
    agent = await agent_socket(app_url, await sign_in(app_url))
    customer = Recorder(app_url, "/chat")
    await customer.connect()
    started = await customer.ok("start_conversation", {"channel": "web", "locale": "en", "name": "Dana"})
    conversation_id = started["conversation"]["id"]

    await customer.ok("send_message", {"text": ASK_FOR_A_PERSON[language]})
    handoff = await customer.wait_for("message_created", lambda m: m["sender"] == "bot")
    assert (handoff["data"]["kind"], handoff["data"]["reason"]) == ("handoff", "customer_request")
    assert (handoff["text"], handoff["data"]["language"]) == (say("bot.customer_request"), language)
    queued = await agent.wait_for("case_queued", lambda c: c["id"] == conversation_id)
    assert queued["escalation_reason"] == "customer_request"

    await agent.ok("accept_case", {"conversation_id": conversation_id})
    await customer.wait_for("message_created", system(text=say("system.joined", agent="Agent")))
    await agent.ok("return_to_bot", {"conversation_id": conversation_id})
    await customer.wait_for("message_created", system("returned_to_bot", say("system.back_to_bot")))

    await customer.ok("send_message", {"text": THANKS[language]})  # "danke" alone looks English: the language stays
    welcome = await customer.wait_for("message_created", lambda m: m["sender"] == "bot" and m["seq"] > handoff["seq"])
    assert (welcome["data"]["kind"], welcome["text"]) == ("small_talk", say("bot.welcome"))
    await customer.ok("send_message", {"text": GOODBYE[language]})
    bye = await customer.wait_for("message_created", lambda m: m["sender"] == "bot" and m["seq"] > welcome["seq"])
    assert (bye["data"]["kind"], bye["text"]) == ("resolved", say("bot.goodbye"))
    await customer.wait_for("message_created", system("survey", say("system.survey")))
    await customer.wait_for("case_updated", lambda c: c["status"] == "resolved")
    for client in (customer, agent):
        await client.close()


@pytest.mark.parametrize("language", ["de", "ar"])
async def test_every_system_message_of_a_journey_is_in_the_customers_language(tmp_path: Path, language: str) -> None:
    """Without Rasa (nothing listens where it should be) the customer's language is their locale: the bot's
    apology, the agent joining, a transfer, a lost agent, the survey, a cancellation."""
    say = lambda key, **values: catalogue.text(language, key, **values)  # noqa: E731
    app = serve_app(tmp_path, f"http://127.0.0.1:{free_port()}", {
        "CASEDESK_RASA_TIMEOUT_SECONDS": "2", "CASEDESK_AGENT_GRACE_SECONDS": "1",
        "CASEDESK_SWEEP_INTERVAL_SECONDS": "0.2",
    })
    try:
        customer, conversation_id = await queued_customer(app.url, locale=language)
        assert customer.messages()[-1]["text"] == say("bot.unavailable")
        token = await sign_in(app.url)
        agent = await agent_socket(app.url, token)

        await agent.ok("accept_case", {"conversation_id": conversation_id})
        await customer.wait_for("message_created", system(text=say("system.joined", agent="Agent")))
        await agent.ok("transfer_case", {"conversation_id": conversation_id, "note": "for a colleague"})
        await customer.wait_for("message_created", system("requeued", say("system.transferred")))

        await agent.ok("accept_case", {"conversation_id": conversation_id})
        await agent.close()  # gone past the grace period: back to the queue
        await customer.wait_for("message_created", system("requeued", say("system.agent_disconnected", agent="Agent")))

        agent = await agent_socket(app.url, token)
        await agent.ok("accept_case", {"conversation_id": conversation_id})
        await agent.ok("resolve_case", {"conversation_id": conversation_id, "category": "problem_solved"})
        await customer.wait_for("message_created", system("survey", say("system.survey")))

        other, other_id = await queued_customer(app.url, locale=language)
        status, _ = await http_json("POST", f"{app.url}/api/cases/{other_id}/cancel", {"reason": "test"}, token=token)
        assert status == 200
        await other.wait_for("message_created", system("cancelled", say("system.cancelled")))

        english = {catalogue.text("en", key) for key in catalogue.keys("en")}
        told = [m["text"] for c in (customer, other) for m in c.messages() if m["sender"] in ("system", "bot")]
        assert len(told) == 9 and not english & set(told)
        for client in (customer, other, agent):
            await client.close()
    finally:
        app.stop()
