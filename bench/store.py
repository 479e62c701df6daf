"""The case store at scale: messages appended per second and the case timeline's read latency, with a
large database (100,000 cases, 2,000,000 messages by default) against a small one (the baseline, 1,000
cases) in the same run, on SQLite and, with --postgres URL, on PostgreSQL.

For each database and size:
  - seed: cases with their contacts, timeline events (3 per case) and messages (--messages-per-case),
    bulk-inserted with the store's own tables in transactions of --batch rows (the time and rows/s are
    printed, but seeding is not the figure: the app never writes like that);
  - append: --writers concurrent tasks append messages to random cases through
    `SqlCaseStore.append_message` (the app's message path: one transaction that checks the case, takes
    the next number and stores the message) for --seconds: messages/s, p50/p99 per append;
  - timeline read: for --reads random cases, what an agent's case view reads
    (`SqlCaseStore.conversation`, `events`, `messages_after(0)`, `case_articles`): p50/p99.

    .venv/bin/python bench/store.py [--cases 100000] [--messages-per-case 20] [--postgres auto|URL]

`--postgres auto` starts a throwaway cluster of Debian's PostgreSQL on disk with its default, durable
settings (harness/postgres.py); a URL (postgresql+asyncpg://user@127.0.0.1:5432/dbname) uses that
database, emptied (its tables dropped) first. SQLite runs as the app runs it: WAL, synchronous=NORMAL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
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
from handoff.store import tables  # noqa: E402
from handoff.store.records import utcnow  # noqa: E402
from handoff.store.sql import SYNC_DRIVERS, SqlCaseStore  # noqa: E402
from harness import postgres  # noqa: E402

STATUSES = ("resolved",) * 8 + ("abandoned", "with_agent")  # what a store that has run a while holds
SENDERS = ("customer", "bot", "customer", "agent")


def seed(url: str, cases: int, per_case: int, batch: int) -> tuple[float, int]:
    """Bulk-insert ``cases`` cases with everything they have; returns (seconds, rows)."""
    engine = sa.create_engine(sa.make_url(url).set(drivername=SYNC_DRIVERS.get(sa.make_url(url).drivername,
                                                                                  sa.make_url(url).drivername)))
    rows = 0
    started = time.perf_counter()
    base = utcnow() - timedelta(days=90)
    rng = random.Random(7)
    pending: dict[sa.Table, list[dict[str, Any]]] = {t: [] for t in
                                                    (tables.customers, tables.conversations, tables.case_events,
                                                     tables.messages)}

    def flush(conn: sa.Connection) -> None:
        nonlocal rows
        for table, values in pending.items():  # parents first: the dict keeps this order
            if values:
                conn.execute(table.insert(), values)
                rows += len(values)
                values.clear()

    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    for n in range(cases):
        at = base + timedelta(seconds=n * 77)
        cid, uid = f"c_{n:08d}", f"u_{n:08d}"
        status = STATUSES[n % len(STATUSES)]
        pending[tables.customers].append({"id": uid, "display_name": "Customer", "channel": "web", "created_at": at})
        pending[tables.conversations].append({
            "id": cid, "token_hash": f"{n:064d}", "customer_id": uid, "channel": ("web", "mobile")[n % 2],
            "locale": "en", "status": status, "resolution": "agent" if status == "resolved" else None,
            "last_seq": per_case, "created_at": at, "updated_at": at, "last_activity_at": at, "queued_at": at,
            "queue": "general", "priority": "normal", "title": f"question {n}",
            "closed_at": at + timedelta(minutes=9) if status != "with_agent" else None,
        })
        for i, (before, after) in enumerate(((None, "bot"), ("bot", "queued"), ("queued", status))):
            pending[tables.case_events].append({"conversation_id": cid, "from_status": before, "to_status": after,
                                                "reason": "seeded", "actor": "system",
                                                "at": at + timedelta(minutes=i)})
        for seq in range(1, per_case + 1):
            pending[tables.messages].append({
                "conversation_id": cid, "seq": seq, "sender": SENDERS[seq % 4], "sender_name": "x",
                "text": "How do I adjust the saddle height of my bike? " * rng.randint(1, 3), "data": "{}",
                "created_at": at + timedelta(seconds=seq * 20),
            })
        if len(pending[tables.messages]) >= batch:
            with engine.begin() as conn:
                flush(conn)
    with engine.begin() as conn:
        flush(conn)
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return time.perf_counter() - started, rows


async def append_rate(store: SqlCaseStore, cases: int, writers: int, seconds: float) -> dict[str, float]:
    open_cases = [f"c_{n:08d}" for n in range(cases) if STATUSES[n % len(STATUSES)] == "with_agent"]
    latencies: list[float] = []
    stop = time.perf_counter() + seconds
    rng = random.Random(11)

    async def writer() -> None:
        while time.perf_counter() < stop:
            cid = rng.choice(open_cases)
            began = time.perf_counter()
            await store.append_message(cid, sender="customer", sender_name="Customer", text="Is it in stock?",
                                       statuses=["with_agent"])
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    elapsed = time.perf_counter() - began
    return {"messages_per_second": len(latencies) / elapsed, "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * percentile(latencies, 99)}


async def timeline_reads(store: SqlCaseStore, cases: int, reads: int) -> dict[str, float]:
    rng = random.Random(13)
    latencies = []
    for _ in range(reads):
        cid = f"c_{rng.randrange(cases):08d}"
        began = time.perf_counter()
        case = await store.conversation(cid)
        await store.events(cid)
        await store.messages_after(cid)
        await store.case_articles(cid)
        latencies.append(time.perf_counter() - began)
        assert case is not None
    return {"p50_ms": 1000 * statistics.median(latencies), "p99_ms": 1000 * percentile(latencies, 99)}


async def measure(url: str, cases: int, args: argparse.Namespace) -> dict[str, Any]:
    store = await SqlCaseStore.open(url)  # creates the schema (migrations)
    await store.close()
    seconds, rows = seed(url, cases, args.messages_per_case, args.batch)
    print(f"  seeded {cases:,} cases, {rows:,} rows in {seconds:.0f} s ({rows / seconds:,.0f} rows/s)", flush=True)
    store = await SqlCaseStore.open(url)
    try:
        await timeline_reads(store, cases, 50)  # warm the caches a little, as a running app has them
        appended = await append_rate(store, cases, args.writers, args.seconds)
        read = await timeline_reads(store, cases, args.reads)
    finally:
        await store.close()
    return {"cases": cases, "messages": cases * args.messages_per_case, "append": appended, "read": read}


def empty_postgres(url: str) -> None:
    sync = sa.make_url(url).set(drivername="postgresql+psycopg")
    engine = sa.create_engine(sync)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--baseline-cases", type=int, default=1_000)
    parser.add_argument("--messages-per-case", type=int, default=20)
    parser.add_argument("--batch", type=int, default=20_000, help="messages per seeding transaction")
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--postgres", help="also on PostgreSQL: auto (a throwaway cluster) or a database URL")
    args = parser.parse_args()
    print(f"machine: {cpu_model()}; {time.strftime('%Y-%m-%d')}", flush=True)
    results: list[tuple[str, dict[str, Any]]] = []
    with TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        if args.postgres == "auto":
            server = stack.enter_context(postgres.cluster(postgres.binaries(), durable=True))
            args.postgres = stack.enter_context(postgres.database(server))
        backends = [("SQLite", lambda n: f"sqlite+aiosqlite:///{Path(tmp) / f'cases-{n}.db'}")]
        if args.postgres:
            backends.append(("PostgreSQL", lambda n: args.postgres))
        for name, url_for in backends:
            for cases in (args.baseline_cases, args.cases):
                url = url_for(cases)
                if name == "PostgreSQL":
                    empty_postgres(url)
                print(f"{name}, {cases:,} cases:", flush=True)
                result = await measure(url, cases, args)
                results.append((name, result))
                a, r = result["append"], result["read"]
                print(f"  append: {a['messages_per_second']:,.0f} msg/s (p50 {a['p50_ms']:.2f} ms, p99 "
                      f"{a['p99_ms']:.2f} ms); timeline read p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms",
                      flush=True)
    print("\n| store | cases | messages | appended msg/s | append p99 | timeline read p50 / p99 |")
    print("|---|---|---|---|---|---|")
    for name, r in results:
        print(f"| {name} | {r['cases']:,} | {r['messages']:,} | {r['append']['messages_per_second']:,.0f} | "
              f"{r['append']['p99_ms']:.2f} ms | {r['read']['p50_ms']:.2f} / {r['read']['p99_ms']:.2f} ms |")


if __name__ == "__main__":
    asyncio.run(main())
