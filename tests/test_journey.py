"""The whole journey through real processes: Rasa, the app, the embedding model, socket.io clients."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from harness.clients import Recorder, http_json, sign_in


def db_rows(db_path: Path, sql: str, *args: Any) -> list[sqlite3.Row]:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql, args).fetchall()


async def start_customer(app_url: str) -> tuple[Recorder, str, str]:
    customer = Recorder(app_url, "/chat")
    await customer.connect()
    started = await customer.ok("start_conversation", {"channel": "web", "locale": "en", "name": "Dana"})
    return customer, started["conversation"]["id"], started["token"]


async def agent_client(app_url: str) -> Recorder:
    agent = Recorder(app_url, "/agent")
    await agent.connect(auth={"token": await sign_in(app_url)})
    return agent


def bot_reply(kind: str) -> Any:
    return lambda m: m["sender"] == "bot" and m["data"].get("kind") == kind


async def test_question_answered_then_escalated_to_an_agent(app_url: str, db_path: Path) -> None:
    agent = await agent_client(app_url)
    customer, conversation_id, _ = await start_customer(app_url)

    # 1. The knowledge base answers, with the article and a did-it-help choice.
    await customer.ok("send_message", {"text": "how do I return a bike?"})
    answer = await customer.wait_for("message_created", bot_reply("answer"))
    assert answer["data"]["article"]["id"] == "bike-returns"
    assert answer["data"]["article"]["title"] == "Returning a bike"
    assert answer["data"]["article"]["url"].startswith("https://")
    assert "30" in answer["text"]  # the article's answer text
    assert [b["payload"] for b in answer["data"]["buttons"]] == ["/affirm", "/deny"]

    # 2. "No" escalates: the customer is told and sees a queue position.
    await customer.ok("send_message", {"text": "No", "payload": "/deny"})
    handoff = await customer.wait_for("message_created", bot_reply("handoff"))
    assert handoff["data"]["reason"] == "answer_not_helpful"
    queued = await customer.wait_for("case_updated", lambda c: c["status"] == "queued")
    assert isinstance(queued["queue_position"], int) and queued["queue_position"] >= 1

    # 3. The signed-in agent sees it appear live, accepts it, and gets the whole transcript in order.
    appeared = await agent.wait_for("case_queued", lambda c: c["id"] == conversation_id)
    assert appeared["escalation_reason"] == "answer_not_helpful"
    assert appeared["customer_name"] == "Dana"
    accepted = await agent.ok("accept_case", {"conversation_id": conversation_id})
    transcript = accepted["messages"]
    assert [m["seq"] for m in transcript] == list(range(1, len(transcript) + 1))
    assert [(m["sender"], m["text"]) for m in transcript[:3]] == [
        ("customer", "how do I return a bike?"),
        ("bot", answer["text"]),
        ("customer", "No"),
    ]
    assert transcript[1]["data"]["article"]["id"] == "bike-returns"
    assert transcript[3]["data"] == handoff["data"]
    assert transcript[4]["sender"] == "system" and "joined" in transcript[4]["text"]
    customer_view = [(m["seq"], m["text"]) for m in customer.messages()]
    assert [(m["seq"], m["text"]) for m in transcript] == customer_view
    with_agent = await customer.wait_for("case_updated", lambda c: c["status"] == "with_agent")
    assert with_agent["agent_name"] == "Agent"

    # 4. Real-time relay both ways; the bot stays out of it.
    await agent.ok("send_message", {"conversation_id": conversation_id, "text": "Hi Dana, which bike is it?"})
    relayed = await customer.wait_for("message_created", lambda m: m["sender"] == "agent")
    assert relayed["text"] == "Hi Dana, which bike is it?"
    await customer.ok("send_message", {"text": "The blue Trail 5, bought last week."})
    heard = await agent.wait_for("message_created", lambda m: m["sender"] == "customer" and "Trail" in m["text"])
    assert heard["conversation_id"] == conversation_id

    # 5. The agent resolves; the customer gets the survey and answers it once.
    await agent.ok("resolve_case", {"conversation_id": conversation_id, "category": "question_answered"})
    survey = await customer.wait_for("message_created", lambda m: m["data"].get("kind") == "survey")
    assert survey["sender"] == "system"
    assert survey["data"]["questions"] == [{"id": "satisfaction", "scale": [1, 5]}, {"id": "comment"}]
    resolved = await customer.wait_for("case_updated", lambda c: c["status"] == "resolved")
    assert resolved["resolution"] == "agent"
    assert resolved["survey_url"].startswith("/survey/")  # to answer later instead
    answered = await customer.ok("answer_survey", {"rating": 4, "comment": "Quick and friendly"})
    assert (answered["survey"]["rating"], answered["survey"]["answered_via"]) == (4, "chat")
    again = await customer.call("answer_survey", {"rating": 1})
    assert again["error"]["code"] == "conflict"

    # 6. The database holds the case: customer, channel, status history, transcript, resolution, survey.
    [case] = db_rows(db_path, "SELECT * FROM conversations WHERE id = ?", conversation_id)
    assert (case["status"], case["resolution"], case["channel"]) == ("resolved", "agent", "web")
    assert case["escalation_reason"] == "answer_not_helpful"
    [customer_row] = db_rows(db_path, "SELECT * FROM customers WHERE id = ?", case["customer_id"])
    assert customer_row["display_name"] == "Dana"
    events = db_rows(db_path, "SELECT * FROM case_events WHERE conversation_id = ? ORDER BY id", conversation_id)
    assert [(e["from_status"], e["to_status"]) for e in events] == [
        (None, "bot"), ("bot", "queued"), ("queued", "with_agent"), ("with_agent", "resolved"),
    ]
    assert all(e["at"] for e in events)
    stored = db_rows(db_path, "SELECT seq, sender, text FROM messages WHERE conversation_id = ? ORDER BY seq",
                     conversation_id)
    assert [r["seq"] for r in stored] == list(range(1, len(stored) + 1))
    assert [r["sender"] for r in stored] == [
        "customer", "bot", "customer", "bot", "system", "agent", "customer", "system",
    ]
    [survey_row] = db_rows(db_path, "SELECT * FROM surveys WHERE conversation_id = ?", conversation_id)
    assert (survey_row["rating"], survey_row["comment"]) == (4, "Quick and friendly")
    assert survey_row["agent_id"] == case["agent_id"]
    # The agents' case shows the answer with its agent and the articles involved.
    _, detail = await http_json("GET", f"{app_url}/api/cases/{conversation_id}", token=await sign_in(app_url))
    shown = detail["case"]["survey"]
    assert (shown["rating"], shown["comment"], shown["answered_via"]) == (4, "Quick and friendly", "chat")
    assert (shown["agent_id"], shown["article_ids"]) == (case["agent_id"], ["bike-returns"])
    assert "survey_url" not in detail["case"]

    await customer.close()
    await agent.close()


async def test_answer_that_helped_resolves_by_bot(app_url: str, db_path: Path) -> None:
    customer, conversation_id, _ = await start_customer(app_url)
    await customer.ok("send_message", {"text": "hello"})
    greeting = await customer.wait_for("message_created", lambda m: m["sender"] == "bot")
    assert "assistant" in greeting["text"]

    await customer.ok("send_message", {"text": "My table wobbles, how can I fix it?"})
    answer = await customer.wait_for("message_created", bot_reply("answer"))
    assert answer["data"]["article"]["id"] == "furniture-wobbly-table"
    await customer.ok("send_message", {"text": "Yes", "payload": "/affirm"})
    resolved = await customer.wait_for("case_updated", lambda c: c["status"] == "resolved")
    assert resolved["resolution"] == "bot"
    assert resolved["survey_url"].startswith("/survey/")
    survey = await customer.wait_for("message_created", lambda m: m["data"].get("kind") == "survey")
    assert [q["id"] for q in survey["data"]["questions"]] == ["satisfaction", "comment"]
    await customer.ok("answer_survey", {"rating": 5})
    await customer.wait_for("case_updated", lambda c: c["survey_answered"] and c["survey_url"] is None)

    # The conversation has ended: further messages are refused and nothing is stored.
    refused = await customer.call("send_message", {"text": "one more thing"})
    assert refused["error"]["code"] == "conflict"

    [case] = db_rows(db_path, "SELECT * FROM conversations WHERE id = ?", conversation_id)
    assert (case["status"], case["resolution"], case["agent_id"]) == ("resolved", "bot", None)
    events = db_rows(db_path, "SELECT * FROM case_events WHERE conversation_id = ? ORDER BY id", conversation_id)
    assert [(e["to_status"], e["reason"]) for e in events] == [("bot", "conversation_started"),
                                                               ("resolved", "answer_helped")]
    [survey_row] = db_rows(db_path, "SELECT rating, comment FROM surveys WHERE conversation_id = ?", conversation_id)
    assert (survey_row["rating"], survey_row["comment"]) == (5, None)
    rows = db_rows(db_path, "SELECT text FROM messages WHERE conversation_id = ?", conversation_id)
    texts = [r["text"] for r in rows]
    assert "one more thing" not in texts
    await customer.close()


async def test_unanswerable_question_and_asking_for_a_person_escalate(app_url: str) -> None:
    customer, _, _ = await start_customer(app_url)
    await customer.ok("send_message", {"text": "What is the best restaurant in Lisbon for seafood?"})
    handoff = await customer.wait_for("message_created", bot_reply("handoff"))
    assert handoff["data"]["reason"] == "low_confidence"
    assert handoff["data"]["hits"], "the scores that led to the decision travel with the message"
    await customer.wait_for("case_updated", lambda c: c["status"] == "queued")
    await customer.close()

    customer, _, _ = await start_customer(app_url)
    await customer.ok("send_message", {"text": "I want to talk to a person"})
    handoff = await customer.wait_for("message_created", bot_reply("handoff"))
    assert handoff["data"]["reason"] == "customer_request"
    await customer.wait_for("case_updated", lambda c: c["status"] == "queued")
    await customer.close()


async def test_a_near_miss_is_handed_over_not_answered_with_the_article_that_shares_its_words(app_url: str) -> None:
    # No article is about brakes; the suspension noises article shares "squeal", "loud", "every time".
    customer, _, _ = await start_customer(app_url)
    await customer.ok("send_message", {"text": "my disc brakes squeal really loud every time I stop"})
    handoff = await customer.wait_for("message_created", bot_reply("handoff"))
    assert handoff["data"]["reason"] == "low_confidence"
    assert handoff["data"]["hits"][0]["article_id"] == "bike-suspension-noises"  # the closest, not answered
    assert handoff["data"]["confidence"] < 0.5
    await customer.wait_for("case_updated", lambda c: c["status"] == "queued")
    await customer.close()


async def test_reconnecting_customer_gets_everything_after_its_last_seq(app_url: str) -> None:
    customer, conversation_id, token = await start_customer(app_url)
    await customer.ok("send_message", {"text": "how long does shipping take?"})
    await customer.wait_for("message_created", bot_reply("answer"))
    seen = customer.messages()
    await customer.close()

    again = Recorder(app_url, "/chat")
    await again.connect()
    resumed = await again.ok("resume_conversation", {"token": token, "after_seq": 1})
    assert resumed["conversation"]["id"] == conversation_id
    assert [m["seq"] for m in resumed["messages"]] == [m["seq"] for m in seen if m["seq"] > 1]
    everything = await again.ok("resume_conversation", {"token": token, "after_seq": 0})
    assert [m["text"] for m in everything["messages"]] == [m["text"] for m in seen]
    await again.close()


async def test_short_replies_out_of_context_do_not_resolve_or_escalate(app_url: str) -> None:
    customer, _, _ = await start_customer(app_url)
    for text in ("yes", "no", "thanks"):
        before = len(customer.messages())
        await customer.ok("send_message", {"text": text})
        reply = await customer.wait_for("message_created", lambda m, n=before: m["seq"] > n and m["sender"] == "bot")
        assert reply["data"].get("kind") not in ("answer", "handoff", "resolved"), (text, reply)
    assert customer.received("case_updated") == []  # still with the bot
    # Whatever intent the NLU sees in it, a message the knowledge base matches strongly gets the article.
    await customer.ok("send_message", {"text": "my chair legs are loose"})
    answer = await customer.wait_for("message_created", bot_reply("answer"))
    assert answer["data"]["article"]["id"] == "furniture-loose-chair-legs"

    # Goodbye ends the conversation as resolved by the bot; an agent sees why on the case's timeline.
    await customer.ok("send_message", {"text": "ok bye"})
    resolved = await customer.wait_for("case_updated", lambda c: c["status"] == "resolved")
    status, detail = await http_json("GET", f"{app_url}/api/cases/{resolved['id']}", token=await sign_in(app_url))
    assert status == 200
    assert [(e["to"], e["reason"]) for e in detail["case"]["events"]] == [("bot", "conversation_started"),
                                                                         ("resolved", "goodbye")]
    assert [m["seq"] for m in detail["messages"]] == list(range(1, len(detail["messages"]) + 1))
    assert detail["case"]["survey"] is None
    await customer.close()


async def test_german_and_arabic_customers_are_answered_from_the_same_knowledge_base(app_url: str) -> None:
    # German, with a localised article: the German version, in German, with German buttons.
    customer, _, _ = await start_customer(app_url)
    await customer.ok("send_message", {"text": "Wie kann ich mein Fahrrad zurückgeben?"})
    answer = await customer.wait_for("message_created", bot_reply("answer"))
    assert (answer["data"]["article"]["id"], answer["data"]["article"]["locale"]) == ("bike-returns-de", "de")
    assert (answer["data"]["language"], answer["data"]["model"]) == ("de", "universal-sentence-encoder-multilingual-3")
    assert "30 Tagen" in answer["text"] and answer["text"].endswith("Hat das Ihre Frage beantwortet?")
    assert [(b["title"], b["payload"]) for b in answer["data"]["buttons"]] == [("Ja", "/affirm"), ("Nein", "/deny")]
    await customer.ok("send_message", {"text": "Nein", "payload": "/deny"})
    handoff = await customer.wait_for("message_created", bot_reply("handoff"))
    assert handoff["data"]["reason"] == "answer_not_helpful"
    assert handoff["text"].startswith("Schade")
    await customer.close()

    # German without a localised article: the English article, cross-lingually.
    customer, _, _ = await start_customer(app_url)
    await customer.ok("send_message", {"text": "Mein Stuhl wackelt, die Beine sind locker"})
    answer = await customer.wait_for("message_created", bot_reply("answer"))
    assert answer["data"]["article"]["id"] == "furniture-loose-chair-legs"
    assert answer["text"].endswith("Hat das Ihre Frage beantwortet?")
    await customer.close()

    # Arabic: the English article; "yes" resolves the case, answered in Arabic.
    customer, _, _ = await start_customer(app_url)
    await customer.ok("send_message", {"text": "كم تستغرق مدة شحن الدراجة؟"})
    answer = await customer.wait_for("message_created", bot_reply("answer"))
    assert (answer["data"]["article"]["id"], answer["data"]["language"]) == ("bike-shipping", "ar")
    assert [b["title"] for b in answer["data"]["buttons"]] == ["نعم", "لا"]
    await customer.ok("send_message", {"text": "نعم", "payload": "/affirm"})
    resolved = await customer.wait_for("case_updated", lambda c: c["status"] == "resolved")
    assert resolved["resolution"] == "bot"
    thanks = await customer.wait_for("message_created", bot_reply("resolved"))
    assert thanks["text"] == "رائع، يسعدني أن ذلك ساعدك!"
    await customer.close()

    # A question in German the knowledge base cannot answer is handed over, in German.
    customer, _, _ = await start_customer(app_url)
    await customer.ok("send_message", {"text": "Wie hoch ist der Zinssatz meiner Hypothek?"})
    handoff = await customer.wait_for("message_created", bot_reply("handoff"))
    assert handoff["data"]["reason"] == "low_confidence"
    assert handoff["text"].startswith("Ich bin nicht sicher")
    await customer.close()


async def test_private_notes_stay_with_agents_and_the_bot_answers_again_after_return(app_url: str) -> None:
    customer, conversation_id, token = await start_customer(app_url)
    await customer.ok("send_message", {"text": "I want to talk to a person"})
    await customer.wait_for("case_updated", lambda c: c["status"] == "queued")
    agent = await agent_client(app_url)
    await agent.ok("accept_case", {"conversation_id": conversation_id})

    note = await agent.ok("add_note", {"conversation_id": conversation_id, "text": "Regular customer, be kind"})
    assert note["message"]["sender"] == "note"
    await agent.wait_for("message_created", lambda m: m["sender"] == "note")  # other agents' panels see it
    await agent.ok("send_message", {"conversation_id": conversation_id, "text": "How can I help?"})
    await customer.wait_for("message_created", lambda m: m["text"] == "How can I help?")
    assert all(m["sender"] != "note" and "be kind" not in m["text"] for m in customer.messages())
    replay = await customer.ok("resume_conversation", {"token": token, "after_seq": 0})
    assert all(m["sender"] != "note" for m in replay["messages"])
    _, case = await http_json("GET", f"{app_url}/api/cases/{conversation_id}", token=await sign_in(app_url))
    assert [m["text"] for m in case["messages"] if m["sender"] == "note"] == ["Regular customer, be kind"]

    # Back to the bot: the next question is answered from the knowledge base again.
    returned = await agent.ok("return_to_bot", {"conversation_id": conversation_id})
    assert returned["case"]["status"] == "bot" and returned["case"]["agent_id"] is None
    await customer.wait_for("case_updated", lambda c: c["status"] == "bot")
    await customer.wait_for("message_created", lambda m: m["data"].get("kind") == "returned_to_bot")
    await customer.ok("send_message", {"text": "how do I return a bike?"})
    answer = await customer.wait_for("message_created", bot_reply("answer"))
    assert answer["data"]["article"]["id"] == "bike-returns"
    refused = await agent.call("send_message", {"conversation_id": conversation_id, "text": "still here?"})
    assert refused["error"]["code"] == "forbidden"  # no longer the agent's case
    _, case = await http_json("GET", f"{app_url}/api/cases/{conversation_id}", token=await sign_in(app_url))
    steps = [(e["from"], e["to"], e["reason"]) for e in case["case"]["events"]]
    assert ("with_agent", "bot", "returned_to_bot") in steps
    await customer.close()
    await agent.close()
