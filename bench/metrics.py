"""What the metrics cost (docs/operations.md, "Metrics and logs"), with a baseline in the same run:

  - per bot turn: what the bridge and the action endpoint record for one turn (`TurnClock.turn` with one
    action, the reply's decision, the status change), against the same loop recording nothing;
  - per scrape: `NodeMetrics.exposition` as `/metrics` runs it (the queues' grouped count in a SQLite store,
    every series in Prometheus' text format), with 0 queued cases (the baseline) and with --queued cases
    among --cases cases.

    .venv/bin/python bench/metrics.py [--turns 100000] [--cases 100000] [--queued 10000] [--scrapes 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dev_suite import cpu_model  # noqa: E402
from bench.turn_latency import percentile  # noqa: E402
from handoff.cases.routing import DEFAULT_QUEUES, Routing  # noqa: E402
from handoff.metrics import series  # noqa: E402
from handoff.metrics.node import NodeMetrics, NodeState, QueueLoad  # noqa: E402
from handoff.metrics.turns import TurnClock  # noqa: E402
from handoff.store import tables  # noqa: E402
from handoff.store.records import utcnow  # noqa: E402
from handoff.store.sql import SqlCaseStore  # noqa: E402


def per_turn(turns: int) -> dict[str, float]:
    """Microseconds per turn: recording everything a turn records, and the same loop recording nothing."""
    clock = TurnClock()

    def recorded(i: int) -> None:
        cid = f"c_{i % 50}"
        with clock.turn(cid) as outcome:
            clock.action(cid, "action_answer_from_kb", 0.004)
            outcome.replied = True
        series.decision("answer")
        series.case_changed("bot", "resolved", "answer_helped")

    def nothing(i: int) -> None:
        cid = f"c_{i % 50}"
        del cid

    result = {}
    for name, step in (("baseline", nothing), ("recorded", recorded)):
        started = time.perf_counter()
        for i in range(turns):
            step(i)
        result[name] = (time.perf_counter() - started) / turns * 1e6
    return result


def seed(url: str, cases: int, queued: int) -> None:
    engine = sa.create_engine(url.replace("+aiosqlite", ""))
    base = utcnow() - timedelta(days=30)
    with engine.begin() as conn:
        batch: list[dict[str, Any]] = []
        for n in range(cases):
            at = base + timedelta(seconds=n * 20)
            status = "queued" if n < queued else "resolved"
            batch.append({"id": f"c_{n:08d}", "token_hash": f"{n:064d}", "customer_id": "u_1", "channel": "web",
                          "locale": "en", "status": status, "last_seq": 0, "created_at": at, "updated_at": at,
                          "last_activity_at": at, "queued_at": at, "queue": "general", "priority": "normal",
                          "title": f"question {n}"})
            if len(batch) >= 5000:
                conn.execute(tables.conversations.insert(), batch)
                batch.clear()
        if batch:
            conn.execute(tables.conversations.insert(), batch)
    engine.dispose()


class NoBot:
    depth = 0
    in_flight = 0
    busy_refusals = 0


async def per_scrape(folder: Path, cases: int, queued: int, scrapes: int) -> dict[str, float]:
    url = f"sqlite+aiosqlite:///{folder / f'cases-{queued}.db'}"
    store = await SqlCaseStore.open(url)
    await store.close()
    engine = sa.create_engine(url.replace("+aiosqlite", ""))
    with engine.begin() as conn:
        conn.execute(tables.customers.insert(), [{"id": "u_1", "display_name": "Customer", "channel": "web",
                                                  "created_at": utcnow()}])
    engine.dispose()
    seed(url, cases, queued)
    store = await SqlCaseStore.open(url)
    routing = Routing(DEFAULT_QUEUES, (), 3, 0.8)
    try:
        async def read() -> NodeState:  # as the app's, without the sockets: Queues.loads' count
            now = utcnow()
            loads: dict[str, QueueLoad] = {}
            for name, (waiting, oldest) in (await store.queue_counts()).items():
                loads[routing.queue(name).name] = QueueLoad(waiting, (now - oldest).total_seconds())
            return NodeState(loads, 0, 0, NoBot())

        metrics = NodeMetrics(read)
        times = []
        size = 0
        for _ in range(scrapes):
            started = time.perf_counter()
            size = len(await metrics.exposition())
            times.append((time.perf_counter() - started) * 1000)
        return {"p50_ms": statistics.median(times), "p99_ms": percentile(times, 0.99), "bytes": size}
    finally:
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--queued", type=int, default=10_000)
    parser.add_argument("--scrapes", type=int, default=200)
    args = parser.parse_args()
    print(f"machine: {cpu_model()}")
    turn = per_turn(args.turns)
    print(f"per turn ({args.turns} turns): baseline {turn['baseline']:.2f} us, recorded {turn['recorded']:.2f} us,"
          f" the metrics' cost {turn['recorded'] - turn['baseline']:.2f} us")
    with TemporaryDirectory() as folder:
        for queued in (0, args.queued):
            scrape = await per_scrape(Path(folder), args.cases, queued, args.scrapes)
            print(f"per scrape, {queued} queued of {args.cases} cases: p50 {scrape['p50_ms']:.2f} ms,"
                  f" p99 {scrape['p99_ms']:.2f} ms, {scrape['bytes']:.0f} bytes")


if __name__ == "__main__":
    asyncio.run(main())
