"""Two close articles offered as a choice, through real processes: Rasa, the app, socket.io clients.

At the default answer precision target (0.95) the calibration adopts no clarify rule (docs/evaluation.md,
"Results"), so this module runs its own app with ``answer_precision_target = 0.8`` behind the session's Rasa,
whose actions it serves meanwhile (the target is read there, by the actions' decision), where the calibrated
rule offers two articles when the second is likely enough and the two are close.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.servers import ActionRelay, RasaProcess, served_app
from tests.test_journey import bot_reply, start_customer

QUESTION = "how long does delivery take"  # a bike's shipping or a sofa's delivery?


@pytest.fixture
def lenient_url(tmp_path: Path, rasa: RasaProcess, actions: ActionRelay) -> Iterator[str]:
    """Only for the test that asks for it: the session's app serves Rasa's actions again afterwards."""
    workdir = tmp_path / "lenient"
    with served_app(workdir, rasa.url, settings_file="answer_precision_target = 0.8\n") as app, \
            actions.serving(app.url):
        yield app.url


async def test_two_close_articles_are_offered_and_the_customer_picks_one(lenient_url: str) -> None:
    customer, _, _ = await start_customer(lenient_url)
    await customer.ok("send_message", {"text": QUESTION})
    clarify = await customer.wait_for("message_created", bot_reply("clarify"))
    offered = [b["payload"] for b in clarify["data"]["buttons"]]
    assert offered[-1] == "/deny" and len(offered) == 3
    assert set(clarify["data"]["offered"]) == {"bike-shipping", "furniture-delivery-scheduling"}
    pick = next(b for b in clarify["data"]["buttons"] if "bike-shipping" in b["payload"])
    await customer.ok("send_message", {"text": pick["title"], "payload": pick["payload"]})
    answer = await customer.wait_for("message_created", bot_reply("answer"))
    assert answer["data"]["article"]["id"] == "bike-shipping"
    await customer.close()

    customer, _, _ = await start_customer(lenient_url)
    await customer.ok("send_message", {"text": QUESTION})
    await customer.wait_for("message_created", bot_reply("clarify"))
    await customer.ok("send_message", {"text": "Neither", "payload": "/deny"})
    handoff = await customer.wait_for("message_created", bot_reply("handoff"))
    assert handoff["data"]["reason"] == "no_offered_article_fits"
    await customer.wait_for("case_updated", lambda c: c["status"] == "queued")
    await customer.close()


async def test_the_default_target_hands_the_same_question_over(app_url: str) -> None:
    customer, _, _ = await start_customer(app_url)
    await customer.ok("send_message", {"text": QUESTION})
    handoff = await customer.wait_for("message_created", bot_reply("handoff"))
    assert handoff["data"]["reason"] == "low_confidence"
    await customer.close()
