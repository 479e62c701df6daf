"""How long a customer waits for the bot, through the real stack, against Rasa alone in the same run.

Starts the app and Rasa on loopback (as the tests do), then for each of N questions taken from the
articles' example questions measures:
  - product: customer socket.io send_message -> the bot's answer as message_created (app + Rasa +
    our action + the index + SQLite writes), a new conversation each;
  - baseline: the same question straight to Rasa's REST channel (NLU, policies and the same action
    call), which is what a Rasa-only deployment answers with.
Prints p50/p90/p99 in ms and the ratio of the medians: the cost of the handoff service (socket.io,
storing every message before delivery, the relay), which holds on a noisy machine where absolute
times do not.

    .venv/bin/python bench/turn_latency.py [--turns 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.clients import Recorder  # noqa: E402
from harness.servers import free_port, start_app, start_rasa  # noqa: E402
from knowledge_index.articles import load_articles  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rasa_turn(url: str, sender: str, text: str) -> float:
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(f"{url}/webhooks/rest/webhook", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
    return (time.perf_counter() - start) * 1000


async def product_turn(app_url: str, text: str) -> tuple[float, bool]:
    customer = Recorder(app_url, "/chat")
    await customer.connect()
    await customer.ok("start_conversation", {"channel": "web"})
    start = time.perf_counter()
    await customer.ok("send_message", {"text": text})
    reply = await customer.wait_for("message_created", lambda m: m["sender"] == "bot")
    elapsed = (time.perf_counter() - start) * 1000
    await customer.close()
    return elapsed, reply["data"].get("kind") == "answer"


async def main(turns: int) -> None:
    questions = [q for a in load_articles(ROOT / "training_data" / "articles") for q in a.questions][:turns]
    with TemporaryDirectory() as tmp:
        rasa_port = free_port()
        app = start_app(Path(tmp), f"http://127.0.0.1:{rasa_port}")
        rasa = start_rasa(app.url, rasa_port, Path(tmp) / "rasa.log")
        try:
            for text in questions[:5]:  # warm up both
                await product_turn(app.url, text)
                rasa_turn(rasa.url, "warm", text)
            product, answered, rasa_only = [], 0, []
            for i, text in enumerate(questions):
                ms, ok = await product_turn(app.url, text)
                product.append(ms)
                answered += ok
                rasa_only.append(await asyncio.to_thread(rasa_turn, rasa.url, f"q{i}", text))
        finally:
            rasa.stop()
            app.stop()

    print(f"turns: {len(questions)}  answered from an article: {answered}/{len(questions)}")
    print(f"{'path':52} {'p50':>7} {'p90':>7} {'p99':>7}  ratio p50")
    base = statistics.median(rasa_only)
    for name, values in (("baseline: Rasa REST channel, same question", rasa_only),
                         ("product: socket.io -> app -> Rasa -> action -> answer", product)):
        p50 = statistics.median(values)
        p90, p99 = percentile(values, 0.9), percentile(values, 0.99)
        print(f"{name:52} {p50:7.1f} {p90:7.1f} {p99:7.1f}  {p50 / base:5.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=100)
    asyncio.run(main(parser.parse_args().turns))
