"""A flood from one client address with the limits on, against the app and Rasa on loopback: does the
agents' queue grow by at most the limit, and do other customers still get their answers in time?

Starts the app (with the limits below, 127.0.0.1 as its trusted proxy so that each client is an address
of its own by X-Forwarded-For) and Rasa, as the tests do. Then, in the same run:
  - idle: N other customers, one after the other, each from an address of their own, start a
    conversation over socket.io and ask one of the articles' example questions; the time from their
    ``send_message`` to the bot's answer is measured;
  - flood: the same N turns while another process floods from one address, as fast as it is answered,
    with W concurrent workers: start a conversation (REST), ask for a person (a hand-over), send two
    more messages, start the next; bounded by ``--seconds`` and a request count, it stops by itself.
    The flooder runs at the lowest CPU priority: an attacker's CPU is not the server's.
``--no-limits`` runs the same flood against the harness's generous limits, to compare.
Prints what the flooder asked and what was refused (429), how many cases entered the queue against the
hand-over limit, and the other customers' p50/p90/p99 in both phases with the ratio.

    .venv/bin/python bench/flood.py [--turns 100] [--workers 8] [--seconds 120] [--no-limits]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sqlite3
import sys
import time
from collections import Counter
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from tempfile import TemporaryDirectory

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.turn_latency import percentile  # noqa: E402
from harness.clients import Recorder  # noqa: E402
from harness.servers import app_and_rasa  # noqa: E402
from knowledge_index.articles import load_articles  # noqa: E402

FLOODER = "198.51.100.66"
HANDOVERS_PER_ADDRESS = 5
LIMITS = {
    "CASEDESK_TRUSTED_PROXIES": "127.0.0.1",
    "CASEDESK_LIMITS_STARTS_PER_ADDRESS": "20/minute",
    "CASEDESK_LIMITS_MESSAGES_PER_CONVERSATION": "10/minute",
    "CASEDESK_LIMITS_MESSAGES_PER_ADDRESS": "30/minute",
    "CASEDESK_LIMITS_HANDOVERS_PER_CONTACT": "3/minute",
    "CASEDESK_LIMITS_HANDOVERS_PER_ADDRESS": f"{HANDOVERS_PER_ADDRESS}/minute",
    "CASEDESK_LIMITS_CONNECTIONS_PER_ADDRESS": "30/minute",
}
MAX_REQUESTS = 200_000
MESSAGES_EACH = 3  # the flooder's messages in each conversation before it starts another


async def flood(url: str, workers: int, seconds: float, stop: EventType) -> Counter[str]:
    """One address, ``workers`` at once: start, ask for a person, then write, again and again, until
    ``stop`` is set or ``seconds`` have passed."""
    counts: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    headers = {"X-Forwarded-For": FLOODER}

    async def worker(http: aiohttp.ClientSession) -> None:
        token = conversation = None
        sent = 0
        while time.monotonic() < deadline and counts["requests"] < MAX_REQUESTS and not stop.is_set():
            counts["requests"] += 1
            if conversation is None:
                async with http.post(f"{url}/api/conversations", json={}, headers=headers) as answer:
                    counts[f"start {answer.status}"] += 1
                    if answer.status == 201:
                        started = await answer.json()
                        token, conversation = started["token"], started["conversation"]["id"]
                        text, sent = "I want to talk to a person", 0
                    else:
                        await answer.read()
                continue
            async with http.post(f"{url}/api/conversations/{conversation}/messages", json={"text": text},
                                 headers={**headers, "Authorization": f"Bearer {token}"}) as answer:
                counts[f"message {answer.status}"] += 1
                await answer.read()
                text, sent = "hello? anyone?", sent + 1
                if answer.status == 429 or sent == MESSAGES_EACH:  # on to another conversation
                    conversation = None

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(worker(http) for _ in range(workers)))
    return counts


def flood_process(url: str, workers: int, seconds: float, stop: EventType,
                  results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    os.nice(19)  # an attacker's CPU is not the server's: here it only takes what the server leaves
    results.put(dict(asyncio.run(flood(url, workers, seconds, stop))))


async def turn(url: str, n: int, text: str) -> float:
    customer = Recorder(url, "/chat")
    await customer.connect(headers={"X-Forwarded-For": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"})
    await customer.ok("start_conversation", {"channel": "web"})
    began = time.perf_counter()
    await customer.ok("send_message", {"text": text})
    await customer.wait_for("message_created", lambda m: m["sender"] == "bot")
    elapsed = (time.perf_counter() - began) * 1000
    await customer.close()
    return elapsed


def queued(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        return int(connection.execute("SELECT count(*) FROM conversations WHERE status = 'queued'").fetchone()[0])


async def main(turns: int, workers: int, seconds: float, limited: bool) -> None:
    questions = [q for a in load_articles(ROOT / "training_data" / "articles") for q in a.questions]
    env = LIMITS if limited else {"CASEDESK_TRUSTED_PROXIES": "127.0.0.1"}  # else the harness's generous ones
    with TemporaryDirectory() as tmp, app_and_rasa(Path(tmp), env) as (app, _rasa):
        for i in range(5):  # warm up
            await turn(app.url, 60000 + i, questions[i])
        idle = [await turn(app.url, i, questions[i % len(questions)]) for i in range(turns)]
        before = queued(app.db_path)
        results: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
        stop = multiprocessing.Event()
        flooder = multiprocessing.Process(target=flood_process, args=(app.url, workers, seconds, stop, results))
        began = time.monotonic()
        flooder.start()
        await asyncio.sleep(1)  # the flood under way
        flooded = [await turn(app.url, turns + i, questions[i % len(questions)]) for i in range(turns)]
        stop.set()
        counts = results.get(timeout=seconds + 60)
        flooder.join()
        lasted = time.monotonic() - began
        grew = queued(app.db_path) - before

    windows = int(lasted // 60) + 1
    print(f"limits: {'on' if limited else 'off (the harness generous ones)'}")
    print(f"flood from one address: {workers} workers, {lasted:.0f} s, {counts['requests']} requests "
          f"({counts['requests'] / lasted:.0f}/s)")
    for key in sorted(k for k in counts if k != "requests"):
        print(f"  {key}: {counts[key]}")
    allowed = HANDOVERS_PER_ADDRESS * windows
    print(f"cases queued by the flood: {grew} (limit: {HANDOVERS_PER_ADDRESS} per minute from one address, "
          f"{allowed} in {windows} window(s)) -> {'OK' if grew <= allowed else 'OVER'}")
    print(f"other customers, {turns} turns each phase, one at a time, each from an address of its own:")
    print(f"{'phase':8} {'p50':>7} {'p90':>7} {'p99':>7}")
    for name, values in (("idle", idle), ("flood", flooded)):
        print(f"{name:8} {percentile(values, 0.5):7.1f} {percentile(values, 0.9):7.1f} {percentile(values, 0.99):7.1f}")
    ratio = percentile(flooded, 0.99) / percentile(idle, 0.99)
    print(f"p99 flood / idle: {ratio:.2f}x -> {'OK' if ratio <= 2 else 'OVER'} (at most 2x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=120, help="the flood's longest run")
    parser.add_argument("--no-limits", action="store_true", help="the same flood without the limits, to compare")
    options = parser.parse_args()
    asyncio.run(main(options.turns, options.workers, options.seconds, not options.no_limits))
