"""Rasa's action endpoint (POST /webhook, bot/action_endpoint.py) runs actions only for a call that carries
the app's action token, as Rasa sends it (bot/endpoints.yml); loopback alone is not enough, since behind a
reverse proxy on the same host every caller is on loopback. The bot still answers: Rasa has the token
(tests/test_journey.py runs the journeys through it; here one question, answered from an article)."""

from __future__ import annotations

import pytest

from harness.clients import Recorder, http_json
from harness.servers import ACTION_TOKEN, AppProcess, RasaProcess

# What Rasa sends for an action (rasa_sdk's executor reads next_action and the tracker).
CALL = {"next_action": "action_no_such_thing", "sender_id": "x", "tracker": {"sender_id": "x", "slots": {},
        "latest_message": {}, "events": [], "paused": False, "followup_action": None, "active_loop": {},
        "latest_action_name": None}, "domain": {}, "version": "3.6.21"}


@pytest.mark.parametrize("query", ["", "?token=", "?token=wrong-token-of-some-length", f"?token={ACTION_TOKEN}x",
                                   f"?Token={ACTION_TOKEN}", f"?token_name={ACTION_TOKEN}"])
async def test_a_call_without_the_token_is_refused(app_url: str, query: str) -> None:
    status, body = await http_json("POST", f"{app_url}/webhook{query}", CALL)
    assert status == 403, body
    assert body == {"error": {"code": "forbidden", "message": body["error"]["message"]}}
    assert "action token" in body["error"]["message"]


async def test_a_call_with_the_token_reaches_the_actions(app_url: str) -> None:
    status, body = await http_json("POST", f"{app_url}/webhook?token={ACTION_TOKEN}", CALL)
    assert status == 404, body  # past the token: rasa-sdk's answer for an action it does not have
    assert body["action_name"] == "action_no_such_thing"


async def test_a_long_dialogue_passes_the_request_limit_for_rasa_only(app_url: str) -> None:
    """Rasa posts the whole dialogue with each action call: after about 100 turns it is past the app's
    256 KB request limit, which holds for everyone else."""
    events = [{"event": "user", "text": "x" * 1000, "timestamp": 0.0}] * 1000  # about 1 MB
    long_call = {**CALL, "tracker": {**CALL["tracker"], "events": events}}
    status, body = await http_json("POST", f"{app_url}/webhook?token={ACTION_TOKEN}", long_call)
    assert status == 404, body  # read whole, and past the token to rasa-sdk's answer
    status, body = await http_json("POST", f"{app_url}/webhook", long_call)
    assert status == 403, body  # without the token, refused before the body is read
    status, body = await http_json("POST", f"{app_url}/api/conversations", {"channel": "web", "x": "x" * 300_000})
    assert (status, body["error"]["code"]) == (400, "invalid_payload")  # everyone else: the 256 KB limit
    assert "too large" in body["error"]["message"].lower()


@pytest.mark.rasa
async def test_the_bot_still_answers_through_the_token(stack: tuple[AppProcess, RasaProcess]) -> None:
    app, _ = stack
    customer = Recorder(app.url, "/chat")
    await customer.connect()
    try:
        await customer.ok("start_conversation", {"channel": "web"})
        await customer.ok("send_message", {"text": "How do I return a bike?"})
        answer = await customer.wait_for("message_created", lambda m: m["sender"] == "bot"
                                         and m["data"].get("kind") == "answer")
        assert answer["data"]["article"]["id"] == "bike-returns"  # the action searched the index
    finally:
        await customer.close()
    assert "action token" not in "".join(app.output)


def test_an_app_without_an_action_token_refuses_every_call() -> None:
    from bot.action_endpoint import token_matches

    assert not token_matches("", "")
    assert not token_matches(None, "")
    assert not token_matches("anything", "")
    assert not token_matches("\ud800", ACTION_TOKEN)  # undecodable text is no match, not a failure
    assert token_matches(ACTION_TOKEN, ACTION_TOKEN)
