"""How long an editor's change takes to reach customers, and what a full retrain costs, in one run.

Starts the app and Rasa on loopback (as the tests do) with a copy of the project's articles and index,
then, for each of N rounds, as an editor would through the REST API:
  - saves one changed article (a new example question: a question the live bot hands over);
  - publishes (POST /api/kb/publish: check, incremental index, Rasa unchanged, quality gate, swap);
  - asks that question as a new customer until the bot answers it from the changed article.
"save -> live" is from the save's response to the first answer from the new version. The baseline of
the same run is a publish with nothing changed (what every publish costs: reading the files, fitting
the prototypes, the gate's questions on both versions).

Then the full retrain, a publish that reuses nothing, through the same `Publisher` on the app's settings:
every text embedded again (both spaces; `casedesk publish --full`), `rasa train` from scratch (a
temporary copy of the bot's files with one more NLU example, so the project's own model stays), the
gate, and the running Rasa loading the new model through its HTTP API (PUT /model), while a customer
asks a question every second.

    .venv/bin/python bench/publish.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handoff.editorial.publishing import Publisher  # noqa: E402
from handoff.settings import load_settings  # noqa: E402
from harness.clients import Recorder, http_json, sign_in  # noqa: E402
from harness.editing import articles_and_index, publish, retrained_bot  # noqa: E402
from harness.servers import app_and_rasa  # noqa: E402
from knowledge_index.index import production_embedders  # noqa: E402

# Questions the project's articles hand over or offer two articles for, and the article an editor
# teaches each to.
FIXES = [("where is the truck with my table right now", "furniture-delivery-tracking"),
         ("what oil do you put in the table top", "furniture-wood-care"),
         ("my bottle of chain lube leaked in the box", "bike-damaged-in-transit")]


async def bot_article(url: str, question: str) -> str | None:
    customer = Recorder(url, "/chat")
    await customer.connect()
    try:
        await customer.ok("start_conversation", {"channel": "web", "locale": "en"})
        await customer.ok("send_message", {"text": question})
        reply = await customer.wait_for("message_created", lambda m: m["sender"] == "bot")
        return reply["data"]["article"]["id"] if reply["data"].get("kind") == "answer" else None
    finally:
        await customer.close()


def steps(job: dict[str, Any]) -> str:
    return "  ".join(f"{s['name']} {s['seconds']:.1f}" for s in job["steps"])


async def rounds(url: str, count: int) -> tuple[list[float], list[float], float]:
    token = await sign_in(url)
    await bot_article(url, "hello")  # warm up the bot
    await publish(url, token)  # and the first publish's one-off costs (the multilingual model's first queries)
    noop = await publish(url, token)
    assert noop["state"] == "published", noop
    print(f"baseline publish, nothing changed: {noop['seconds']:.1f} s  ({steps(noop)})")
    save_to_live, publish_seconds = [], []
    for question, article_id in FIXES[:count]:
        assert await bot_article(url, question) != article_id
        _, current = await http_json("GET", f"{url}/api/articles/{article_id}", token=token)
        started = time.perf_counter()
        status, body = await http_json("POST", f"{url}/api/articles/{article_id}/questions",
                                       {"question": question, "version": current["article"]["version"]}, token=token)
        assert status == 201, body
        saved = time.perf_counter()
        job = await publish(url, token)
        assert job["state"] == "published", job
        while await bot_article(url, question) != article_id:
            await asyncio.sleep(0.1)
        live = time.perf_counter() - saved
        save_to_live.append(live)
        publish_seconds.append(job["seconds"])
        print(f"save {1000 * (saved - started):.0f} ms, save -> live {live:.1f} s: {question!r} -> {article_id}"
              f"  ({steps(job)}; {job['steps'][1]['detail']})")
    return save_to_live, publish_seconds, noop["seconds"]


def full_retrain(app_env: dict[str, str], work: Path) -> float:
    """A publish that reuses nothing, through the product's `Publisher` on the app's own settings: every
    text embedded again (``full``), and a copy of the bot whose training data changed (`rasa train` from
    scratch), loaded into the running Rasa through its HTTP API."""
    settings = load_settings(None, app_env)
    publisher = Publisher(settings, *production_embedders(), root=retrained_bot(work / "bot-copy"))
    job = publisher.run(publisher.new_job("bench"), full=True)
    assert job.state == "published", job
    print(f"full retrain and publish: {job.seconds:.1f} s  ("
          + "  ".join(f"{s.name} {s.seconds:.1f}" for s in job.steps) + ")")
    for step in job.steps:
        print(f"  {step.name}: {step.detail}")
    return job.seconds


async def main(count: int) -> None:
    with TemporaryDirectory() as tmp:
        work = Path(tmp)
        with app_and_rasa(work / "app", articles_and_index(work)) as (app, _):
            live, published, baseline = await rounds(app.url, count)
            waits: list[tuple[float, str | None]] = []
            stop = asyncio.Event()

            async def keep_asking() -> None:
                """A customer asking every second (as fast as the bot answers while it is slower)."""
                while not stop.is_set():
                    started = time.perf_counter()
                    answer = await bot_article(app.url, "how do I return a bike?")
                    waits.append((time.perf_counter() - started, answer))
                    await asyncio.sleep(max(0.0, 1 - (time.perf_counter() - started)))

            asker = asyncio.create_task(keep_asking())
            full = await asyncio.to_thread(full_retrain, app.env, work)
            stop.set()
            await asker
    answered = sum(answer == "bike-returns" for _, answer in waits)
    seconds = [wait for wait, _ in waits]
    print(f"a customer asking throughout the full retrain: {len(waits)} questions, {answered} answered from the "
          f"article, longest wait {max(seconds):.1f} s, median {statistics.median(seconds):.2f} s")
    print()
    print(f"save -> live, one changed article: median {statistics.median(live):.1f} s, max {max(live):.1f} s "
          f"over {len(live)} (target: under 30 s)")
    print(f"publish alone: median {statistics.median(published):.1f} s; "
          f"{statistics.median(published) / baseline:.2f}x the baseline publish with nothing changed")
    print(f"full retrain: {full:.1f} s, {full / statistics.median(published):.0f}x a one-article publish")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, choices=range(1, len(FIXES) + 1))
    asyncio.run(main(parser.parse_args().rounds))
