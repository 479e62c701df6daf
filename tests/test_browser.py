"""The widget and the agent panel in a real browser (Debian's Chromium driven by playwright, tests/browser.py),
against the real stack. Screenshots of the key moments go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.async_api import Browser, Page, expect

from harness.clients import http_json
from tests.browser import WAIT_MS, XSS, open_page, seqs, shot


async def test_customer_and_agent_in_the_browser(browser: Browser, app_url: str) -> None:
    expect.set_options(timeout=WAIT_MS)
    errors: list[str] = []
    customer = await open_page(browser, f"{app_url}/", errors)
    agent = await open_page(browser, f"{app_url}/panel", errors)
    try:
        await journey(customer, agent, app_url)
    except BaseException:
        await shot(customer, "failure-widget.png")
        await shot(agent, "failure-panel.png")
        raise
    assert errors == [], "uncaught errors on the pages"


async def case_detail(agent: Page, app_url: str, conversation_id: str) -> dict[str, Any]:
    """GET /api/cases/{id} with the panel's own sign-in."""
    token = await agent.evaluate("JSON.parse(sessionStorage.getItem('casedesk.agent')).token")
    status, body = await http_json("GET", f"{app_url}/api/cases/{conversation_id}", token=token)
    assert status == 200, body
    return body["case"]  # type: ignore[no-any-return]


async def stored_conversation(customer: Page) -> str:
    """The id of the conversation the widget keeps in localStorage."""
    return str(json.loads(await customer.evaluate("localStorage.getItem('casedesk.conversation')"))["id"])


async def journey(customer: Page, agent: Page, app_url: str) -> None:
    widget = customer.get_by_test_id("cdw-panel")
    messages = widget.get_by_test_id("cdw-message")
    status = widget.get_by_test_id("cdw-status-text")

    # -- the customer asks; the bot answers with the bike-returns article and a did-it-help choice
    await expect(widget).to_be_hidden()
    await customer.get_by_test_id("cdw-launcher").click()
    await expect(widget).to_be_visible()
    await widget.get_by_test_id("cdw-input").fill("how do I return a bike?")
    await widget.get_by_test_id("cdw-send").click()
    question = messages.filter(has_text="how do I return a bike?")
    await expect(question).to_have_attribute("data-sender", "customer")
    answer = widget.locator("[data-testid=cdw-message][data-sender=bot][data-kind=answer]")
    await expect(answer).to_have_count(1)
    link = answer.get_by_test_id("cdw-article-link")
    await expect(link).to_have_text("Returning a bike")
    await expect(link).to_have_attribute("href", re.compile(r"^https://.*bike-returns"))
    await expect(widget.get_by_test_id("cdw-input")).to_have_value("")
    await shot(customer, "widget-answer.png")

    # -- "No" hands over to a person: the handoff message and the queue line
    await answer.get_by_test_id("cdw-quick-reply").filter(has_text="No").click()
    await expect(widget.locator("[data-testid=cdw-message][data-kind=handoff]")).to_have_count(1)
    await expect(widget.get_by_test_id("cdw-status")).to_have_attribute("data-status", "queued")
    # Nobody is signed in yet: the customer is told so, and that a message left here is answered here.
    await expect(status).to_have_text(re.compile(
        r"^Nobody from our team is available right now\. Leave a message here and we will answer you in this chat"))
    await expect(answer.get_by_test_id("cdw-quick-reply").first).to_be_disabled()
    conversation_id = await stored_conversation(customer)

    # The session's app is shared: cases other tests left waiting may be ahead (test_queue.py checks places).
    place = re.compile(r"You are number \d+ in the queue")

    # -- the agent signs in, sees the case waiting, accepts it and gets the whole transcript
    await agent.get_by_test_id("login-username").fill("agent")
    await agent.get_by_test_id("login-password").fill("correct horse battery")
    await agent.get_by_test_id("login-submit").click()
    await expect(agent.get_by_test_id("app-view")).to_be_visible()
    await expect(agent.get_by_test_id("connection-status")).to_have_text("Online")
    await expect(status).to_have_text(place)  # updated live
    await shot(customer, "widget-queued.png")
    await agent.get_by_test_id("availability").select_option("away")  # the customer sees it at once
    await expect(status).to_have_text(re.compile(r"^Nobody from our team is available right now"))
    await agent.get_by_test_id("availability").select_option("available")
    await expect(status).to_have_text(place)
    waiting = agent.locator(f'[data-testid=waiting-item][data-conversation-id="{conversation_id}"]')
    await expect(waiting).to_contain_text("Answer was not helpful")
    await expect(waiting.get_by_test_id("case-queue")).to_have_text("general")  # the only queue by default
    await waiting.get_by_test_id("accept-button").click()
    await expect(waiting).to_have_count(0)
    await expect(agent.locator(f'[data-testid=mine-item][data-conversation-id="{conversation_id}"]')).to_be_visible()
    transcript = agent.get_by_test_id("transcript")
    items = transcript.get_by_test_id("transcript-item")
    await expect(transcript.locator("[data-sender=customer]").first).to_contain_text("how do I return a bike?")
    bot_answer = transcript.locator("[data-sender=bot][data-kind=answer]")
    await expect(bot_answer.get_by_test_id("transcript-article")).to_contain_text("Returning a bike")
    await expect(bot_answer.get_by_test_id("transcript-article").locator("a")).to_have_attribute(
        "href", re.compile(r"bike-returns"))
    await expect(transcript.get_by_test_id("transcript-handoff")).to_have_text("Handed over: Answer was not helpful")
    await expect(agent.get_by_test_id("conversation-reason")).to_have_text("Answer was not helpful")
    await expect(agent.get_by_test_id("conversation-status")).to_have_attribute("data-status", "with_agent")
    # the agent sees exactly what the customer sees, in the same order
    await expect(messages).to_have_count(await items.count())
    assert await seqs(items) == await seqs(messages)
    await shot(agent, "panel-transcript.png")

    # -- the agent replies; the customer sees it live, with the agent's name in the status line
    await expect(status).to_have_text(re.compile(r"You are chatting with "))
    await agent.get_by_test_id("reply-input").fill("Hi, which")  # typing: the customer sees it
    await expect(widget.get_by_test_id("cdw-typing")).to_have_text(re.compile(r" is typing"))
    await widget.get_by_test_id("cdw-input").fill("the bike")  # and the agent sees the customer typing
    await expect(agent.get_by_test_id("typing-indicator")).to_have_text(re.compile(r" is typing"))
    await widget.get_by_test_id("cdw-input").fill("")
    await agent.get_by_test_id("reply-input").fill("Hi, which bike is it?")
    await agent.get_by_test_id("reply-send").click()
    await expect(widget.get_by_test_id("cdw-typing")).to_be_hidden()  # sent: no longer typing
    await expect(agent.get_by_test_id("reply-input")).to_have_value("")
    await expect(widget.locator("[data-testid=cdw-message][data-sender=agent]")).to_contain_text(
        "Hi, which bike is it?")

    # -- the agent searches the knowledge base and inserts an article into the reply box
    await agent.get_by_test_id("kb-panel").locator("summary").click()
    await agent.get_by_test_id("kb-query").fill("can I send a bicycle back")
    await agent.get_by_test_id("kb-search").click()
    hit = agent.get_by_test_id("kb-hit").first
    await expect(hit).to_have_attribute("data-article-id", "bike-returns")
    await hit.get_by_test_id("kb-insert").click()
    await expect(agent.get_by_test_id("reply-input")).to_have_value(re.compile(r"30 days[\s\S]*bike-returns"))
    await agent.get_by_test_id("reply-input").fill("")

    # -- a private note shows in the panel's transcript and never reaches the customer
    await agent.get_by_test_id("reply-note").check()
    await agent.get_by_test_id("reply-input").fill("Returned bike was scratched <i>before</i> delivery")
    await agent.get_by_test_id("reply-send").click()
    await expect(items.filter(has_text="scratched")).to_have_attribute("data-sender", "note")
    await expect(items.filter(has_text="scratched").locator(".msg-text")).to_have_text(
        "Returned bike was scratched <i>before</i> delivery")
    await agent.get_by_test_id("reply-note").uncheck()
    await widget.get_by_test_id("cdw-input").fill("it is the blue one")
    await widget.get_by_test_id("cdw-input").press("Enter")
    await expect(items.filter(has_text="it is the blue one")).to_have_count(1)
    await expect(messages.filter(has_text="scratched")).to_have_count(0)

    # -- markup from the customer is shown as text on both sides and never runs
    await widget.get_by_test_id("cdw-input").fill(XSS)
    await widget.get_by_test_id("cdw-input").press("Enter")
    mine = messages.filter(has_text="<b>bold</b>")
    await expect(mine).to_have_attribute("data-sender", "customer")
    heard = items.filter(has_text="<b>bold</b>")
    await expect(heard).to_have_attribute("data-sender", "customer")
    await expect(heard.locator(".msg-text")).to_have_text(XSS)
    await expect(mine.locator(".cdw-text")).to_have_text(XSS)
    for item in (heard, mine):
        await expect(item.locator("b")).to_have_count(0)
        await expect(item.locator("img")).to_have_count(0)
        await expect(item.locator("script")).to_have_count(0)
    for page in (customer, agent):
        assert await page.evaluate("typeof window.__pwned") == "undefined"
    await shot(agent, "panel-markup-as-text.png")

    # -- a reload mid-conversation brings the whole history back
    before = await seqs(messages)
    texts = await messages.all_inner_texts()
    await customer.reload()
    if await widget.is_hidden():
        await customer.get_by_test_id("cdw-launcher").click()
    await expect(widget).to_be_visible()
    await expect(messages).to_have_count(len(before))
    assert await seqs(messages) == before
    assert await messages.all_inner_texts() == texts
    await expect(status).to_have_text(re.compile(r"You are chatting with "))
    assert await customer.evaluate("typeof window.__pwned") == "undefined"
    await shot(customer, "widget-after-reload.png")

    # -- a transfer needs a note for the colleague; then the case is back in the queue and taken again
    await agent.get_by_test_id("transfer-button").click()
    await expect(agent.get_by_test_id("panel-error")).to_have_text(re.compile(r"Write a note for your colleague"))
    await agent.get_by_test_id("reply-input").fill("Frame question: workshop knows best")
    await agent.get_by_test_id("transfer-button").click()
    await expect(agent.get_by_test_id("conversation-status")).to_have_attribute("data-status", "queued")
    await expect(status).to_have_text(place)
    await expect(messages.filter(has_text="workshop knows best")).to_have_count(0)
    await waiting.get_by_test_id("accept-button").click()
    await expect(agent.get_by_test_id("conversation-status")).to_have_attribute("data-status", "with_agent")

    # -- the agent resolves with a category; the timeline shows it; the customer rates the conversation
    await agent.get_by_test_id("resolve-category").select_option("problem_solved")  # not the first one
    await agent.get_by_test_id("resolve-button").click()
    await expect(agent.get_by_test_id("conversation-status")).to_have_attribute("data-status", "resolved")
    await expect(agent.get_by_test_id("reply-input")).to_be_disabled()
    history = agent.get_by_test_id("history")
    await history.locator("summary").click()
    await expect(history).to_have_attribute("open", "")
    timeline = history.get_by_test_id("timeline")
    resolved = timeline.locator("[data-testid=timeline-event][data-reason=resolved_by_agent]")
    await expect(resolved).to_have_count(1)
    await expect(resolved).to_contain_text("Resolved")
    await expect(timeline.locator("[data-testid=timeline-event][data-reason=transferred]")).to_have_count(1)
    await shot(agent, "panel-timeline.png")
    first = await case_detail(agent, app_url, conversation_id)
    assert (first["status"], first["resolution_category"]) == ("resolved", "problem_solved")
    survey = widget.get_by_test_id("cdw-survey")
    await expect(survey).to_be_visible()
    await expect(widget.get_by_test_id("cdw-status")).to_have_attribute("data-status", "resolved")
    await expect(widget.get_by_test_id("cdw-input")).to_be_disabled()
    four = survey.locator("[data-testid=cdw-survey-rating][data-rating='4']")
    await four.click()
    await expect(four).to_have_attribute("aria-pressed", "true")
    await survey.get_by_test_id("cdw-survey-submit").scroll_into_view_if_needed()
    await shot(customer, "widget-survey.png")
    await survey.get_by_test_id("cdw-survey-submit").click()
    await expect(survey.get_by_test_id("cdw-survey-thanks")).to_have_text("Thank you for your feedback")
    await expect(survey.get_by_test_id("cdw-survey-submit")).to_have_count(0)
    await expect(widget.get_by_test_id("cdw-error")).to_be_hidden()
    await shot(customer, "widget-survey-thanks.png")
    # the agent's open case shows the answer as it comes
    await expect(history.get_by_test_id("case-survey")).to_have_text("4 of 5 · in the chat")

    # -- the customer comes back: the next conversation is theirs, and the agent sees the earlier case
    await widget.get_by_test_id("cdw-new-conversation").click()
    await expect(messages).to_have_count(0)
    await widget.get_by_test_id("cdw-input").fill("I want to talk to a human")
    await widget.get_by_test_id("cdw-input").press("Enter")
    await expect(widget.get_by_test_id("cdw-status")).to_have_attribute("data-status", "queued")
    second_id = await stored_conversation(customer)
    assert second_id != conversation_id
    assert await customer.evaluate("localStorage.getItem('casedesk.earlier')") is None  # used up
    second = await case_detail(agent, app_url, second_id)
    assert second["customer_id"] == first["customer_id"]
    assert [c["id"] for c in second["earlier_cases"]] == [conversation_id]
    again = agent.locator(f'[data-testid=waiting-item][data-conversation-id="{second_id}"]')
    await again.get_by_test_id("accept-button").click()
    await expect(agent.get_by_test_id("conversation-status")).to_have_attribute("data-status", "with_agent")
    earlier = history.get_by_test_id("earlier-case")
    await expect(earlier).to_have_count(1)
    await expect(earlier).to_contain_text(f"Case #{first['case_number']}")
    await expect(earlier).to_contain_text("problem solved")
    await expect(history.get_by_test_id("earlier-count")).to_have_text("(1 earlier)")
    await shot(agent, "panel-earlier-cases.png")
    await agent.get_by_test_id("resolve-category").select_option("question_answered")
    await agent.get_by_test_id("resolve-button").click()
    await expect(widget.get_by_test_id("cdw-status")).to_have_attribute("data-status", "resolved")

    # -- a stale earlier token (its conversation is unknown here) is dropped: the widget starts afresh
    await widget.get_by_test_id("cdw-new-conversation").click()
    await customer.evaluate("localStorage.setItem('casedesk.earlier', 'a-token-this-server-never-gave')")
    await widget.get_by_test_id("cdw-input").fill("how do I return a bike?")
    await widget.get_by_test_id("cdw-input").press("Enter")
    await expect(messages.filter(has_text="how do I return a bike?")).to_have_attribute("data-sender", "customer")
    await expect(widget.get_by_test_id("cdw-error")).to_be_hidden()
    third = await case_detail(agent, app_url, await stored_conversation(customer))
    assert third["earlier_cases"] == [] and third["customer_id"] != first["customer_id"]
    assert await customer.evaluate("localStorage.getItem('casedesk.earlier')") is None
