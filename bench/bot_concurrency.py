"""How many turns at once Rasa needs (the bot queue's `bot_turns_in_flight`, docs/operations.md, "Overload").

Starts the app and a Rasa of its own (harness.servers.app_and_rasa), then, for each number of senders K, keeps
K knowledge-base questions at Rasa's REST channel at all times for a while (each sender a conversation of its
own, asking again as soon as it is answered): turns a second and the latency of one turn. Throughput that no
longer grows with K means Rasa is saturated; more at once only makes each turn slower.

    .venv/bin/python -m bench.bot_concurrency [--seconds 8] [--senders 1,2,4,8,16]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from harness.servers import app_and_rasa

QUESTIONS = ["how do I return a bike?", "my fork leaks oil", "how long is the warranty on a sofa?",
             "when will my table be delivered?"]


async def run(rasa_url: str, senders: int, seconds: float) -> tuple[float, float, float]:
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def sender(http: aiohttp.ClientSession, number: int) -> None:
        turn = 0
        while time.monotonic() < deadline:
            body = {"sender": f"bench-{senders}-{number}", "message": QUESTIONS[turn % len(QUESTIONS)]}
            started = time.monotonic()
            async with http.post(f"{rasa_url}/webhooks/rest/webhook", json=body) as response:
                await response.read()
            latencies.append(time.monotonic() - started)
            turn += 1

    started = time.monotonic()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        await asyncio.gather(*(sender(http, n) for n in range(senders)))
    elapsed = time.monotonic() - started
    latencies.sort()
    return len(latencies) / elapsed, statistics.median(latencies), latencies[int(0.99 * (len(latencies) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--senders", default="1,2,4,8,16")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir, app_and_rasa(Path(workdir)) as (_, rasa):
        asyncio.run(run(rasa.url, 2, 2.0))  # warm up
        print("| senders at once | turns/s | p50 | p99 |\n|---|---|---|---|")
        for senders in (int(s) for s in args.senders.split(",")):
            rate, p50, p99 = asyncio.run(run(rasa.url, senders, args.seconds))
            print(f"| {senders} | {rate:.1f} | {p50 * 1000:.0f} ms | {p99 * 1000:.0f} ms |", flush=True)


if __name__ == "__main__":
    main()
