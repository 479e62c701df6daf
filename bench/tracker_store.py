"""What Rasa's tracker store costs per turn (issue 18): one turn's read and write of a tracker, as Rasa's
processor does them, in Rasa's in-memory store (the baseline, in the same run), its SQL store on a SQLite
file, ours (bot/rasa_plugins/sqlite_trackers.py, the default: bot/tracker_stores.py) and, when a Redis URL
is given, its Redis store.

Run with Rasa's own Python (it imports Rasa):

    .venv-rasa/bin/python bench/tracker_store.py [--conversations 50] [--turns 20] [--redis redis://127.0.0.1:6379/0]

Each turn reads the conversation's tracker, adds the events of one turn of our bot (the customer's message,
the intent's action, the bot's reply, the last article's slot, action_listen) and saves it; turns of the
conversations interleave, as under load. Prints the per-turn cost (median, p95) and the turns per second
of one process for each store.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


async def measure(store: Any, conversations: int, turns: int) -> tuple[list[float], float]:
    """Each turn's wall time, and the CPU time of all turns (steadier than wall time on a busy machine)."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

    costs: list[float] = []
    cpu = time.process_time()
    for turn in range(turns):
        for c in range(conversations):
            sender = f"c_{c:05d}"
            started = time.perf_counter()
            tracker = await store.get_or_create_tracker(sender)
            tracker.update(UserUttered(f"question {turn}", {"name": "ask_question", "confidence": 0.9}))
            tracker.update(ActionExecuted("action_answer_from_kb"))
            tracker.update(BotUttered("an answer", {"custom": {"text": "an answer", "data": {"kind": "answer"}}}))
            tracker.update(SlotSet("last_article", "furniture-wobbly-table"))
            tracker.update(ActionExecuted("action_listen"))
            await store.save(tracker)
            costs.append(time.perf_counter() - started)
    return costs, time.process_time() - cpu


def report(name: str, measured: tuple[list[float], float]) -> None:
    costs, cpu = measured
    ordered = sorted(costs)
    p95 = ordered[int(len(ordered) * 0.95)]
    print(f"| {name} | {len(costs)} | {statistics.median(costs) * 1000:.2f} | {p95 * 1000:.2f} |"
          f" {cpu / len(costs) * 1000:.2f} | {len(costs) / sum(costs):.0f} |")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--redis", default="", help="a redis:// URL: measure Rasa's Redis store too")
    parser.add_argument("--dir", default=str(ROOT / "var"), help="where the SQLite files go (a disk, as var/)")
    args = parser.parse_args()

    from rasa.core.tracker_store import InMemoryTrackerStore, RedisTrackerStore, SQLTrackerStore
    from rasa.shared.core.domain import Domain

    domain = Domain.load(str(ROOT / "bot" / "domain.yml"))
    print(f"{args.conversations} conversations x {args.turns} turns, interleaved; python {sys.version.split()[0]}")
    print("| store | turns | per turn p50 ms | p95 ms | CPU ms per turn | turns/s (store only) |")
    print("|---|---|---|---|---|---|")
    report("in memory (baseline)", await measure(InMemoryTrackerStore(domain), args.conversations, args.turns))
    sys.path.insert(0, str(ROOT))
    from bot.rasa_plugins.sqlite_trackers import SQLiteTrackerStore

    for name, store in (("Rasa's SQLTrackerStore on SQLite", SQLTrackerStore),
                        ("ours on SQLite (WAL, one connection: bot/endpoints.yml)", SQLiteTrackerStore)):
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            sql = store(domain, host=f"sqlite:///{tmp}/casedesk-rasa-trackers.db")
            report(name, await measure(sql, args.conversations, args.turns))
    if args.redis:
        parts = urllib.parse.urlsplit(args.redis)
        redis = RedisTrackerStore(domain, host=parts.hostname or "127.0.0.1", port=parts.port or 6379,
                                  db=int(parts.path.strip("/") or 0), key_prefix="benchmark")
        report("Redis", await measure(redis, args.conversations, args.turns))
        redis.red.flushdb()


if __name__ == "__main__":
    asyncio.run(main())
