"""Customer -> agent relay through the app against a bare python-socketio relay in the same run; and the
memory of one app process holding thousands of idle customers.

For each N in --sizes, a fresh app (harness/servers.py start_app: its own SQLite database; Rasa's URL
is a closed port, so each customer's first message gets the "bot unavailable" reply and is queued
at once) and bench/bare_relay.py (python-socketio on aiohttp, the same events, no storage) run side
by side, each with its own two load processes, the same client code and the same pacing:
  - setup: N customers (one process, N socket.io clients in one asyncio loop) connect, start a
    conversation and send a first message; ceil(N / 100) agents (another process; capacity 100
    each) sign in and accept them round-robin, 50 conversations at a time;
  - paced: each customer sends one message every --interval seconds, the conversations' phases
    spread evenly over the interval (N / interval messages per second, open loop), and its agent
    answers each at once. Measured for --seconds (after --warmup) in --rounds segments that
    alternate between the two servers, so that whatever else the machine does falls on both alike.
    Relay latency: from the customer's emit of send_message to the agent client's message_created
    for it, from wall-clock stamps in the text (one host, one clock); the same for the answers,
    agent -> customer; relayed messages per second, both directions, by arrival; the server
    process's CPU (from /proc) in cores;
  - flood: for --flood-seconds each customer sends its next message as soon as the previous one is
    acknowledged (one in flight per conversation), agents do not answer: the saturated customer ->
    agent throughput.
Idle: a fresh app, --idle customers (in --idle-processes processes) connected, each having started
a conversation, held --idle-hold seconds (past an engine.io ping); the server's RSS (VmRSS) before
and after; then the same for the bare relay.

Targets: p99 relay at N = 1000 within 3x the bare relay's p99; one app process holding 5000 idle
customers under 500 MB RSS. About 9 minutes with the defaults on 2 vCPU.

    .venv/bin/python bench/relay.py [--sizes 100,1000] [--interval 20] [--seconds 45] [--idle 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import math
import multiprocessing
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import relay_load  # noqa: E402
from bench.dev_suite import cpu_model  # noqa: E402
from bench.turn_latency import percentile  # noqa: E402
from harness.clients import sign_in  # noqa: E402
from harness.servers import TEST_HASH_COST, free_port, start_app  # noqa: E402

CTX = multiprocessing.get_context("spawn")
PASSWORD = "correct horse battery"  # the first agent's, as harness/servers.py sets it; ours use it too
CAPACITY = 100  # conversations per agent (the most agent_capacity allows)
APP_ENV = {  # nothing is swept during a run: no agent is requeued, no customer abandoned, no bot case closed
    "CASEDESK_AGENT_CAPACITY": str(CAPACITY),
    "CASEDESK_AGENT_GRACE_SECONDS": "86400",
    "CASEDESK_ABANDON_AFTER_SECONDS": "86400",
    "CASEDESK_BOT_IDLE_SECONDS": "86400",
}
RELAY_P99_TARGET, IDLE_RSS_TARGET_MB = 3.0, 500.0
WORKER_TIMEOUT = 600.0
DRAIN_SECONDS = 20.0
SETUP_BATCH = 50  # default of --setup-batch: customers queued, then accepted, at a time


class Worker:
    """One load process (bench/relay_load.py), driven command by command."""

    def __init__(self, role: str, url: str) -> None:
        self.role = role
        self.conn, child = CTX.Pipe()
        self.process = CTX.Process(target=relay_load.main, args=(child, role, url), daemon=True,
                                   name=f"relay-{role}")
        self.process.start()
        child.close()

    def _receive(self) -> tuple[str, Any]:
        if not self.conn.poll(WORKER_TIMEOUT):
            raise TimeoutError(f"the {self.role} process did not answer in {WORKER_TIMEOUT:.0f} s")
        answer: tuple[str, Any] = self.conn.recv()
        return answer

    async def __call__(self, command: str, **kwargs: Any) -> Any:
        self.conn.send((command, kwargs))
        status, result = await asyncio.to_thread(self._receive)
        if status != "ok":
            raise RuntimeError(f"{self.role} {command} failed:\n{result}")
        return result

    def stop(self) -> None:
        with contextlib.suppress(OSError, EOFError):
            if self.process.is_alive():
                self.conn.send(("close", {}))
                if self.conn.poll(40):
                    self.conn.recv()
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


@contextlib.asynccontextmanager
async def workers(*specs: tuple[str, str]) -> AsyncIterator[list[Worker]]:
    started: list[Worker] = []
    try:
        for role, url in specs:
            started.append(Worker(role, url))
        yield started
    finally:
        await asyncio.gather(*(asyncio.to_thread(w.stop) for w in started))


@dataclasses.dataclass(frozen=True)
class Server:
    name: str  # "app" or "bare"
    url: str
    pid: int
    db_path: Path | None = None

    async def agent_tokens(self, count: int) -> list[str]:
        """Tokens of ``count`` signed-in agents: the first agent the app creates, then agents added
        as `casedesk agent add` adds them (through `StaffAccounts`, without a process each). Any string
        does for the bare relay."""
        if self.db_path is None:
            return ["bare"] * count
        from handoff.staff.accounts import AgentAuth
        from handoff.staff.passwords import PasswordHasher
        from handoff.staff.roster import StaffAccounts
        from handoff.store.sql import SqlCaseStore

        store = await SqlCaseStore.open(f"sqlite+aiosqlite:///{self.db_path}")
        try:
            staff = StaffAccounts(store, AgentAuth(store, 12, PasswordHasher(TEST_HASH_COST)))
            for k in range(2, count + 1):
                await staff.add(f"bench{k}", PASSWORD, f"Bench agent {k}")
        finally:
            await store.close()
        names = ["agent"] + [f"bench{k}" for k in range(2, count + 1)]
        return list(await asyncio.gather(*(sign_in(self.url, name, PASSWORD) for name in names)))


@contextlib.asynccontextmanager
async def running(name: str, workdir: Path) -> AsyncIterator[Server]:
    """A fresh app (its own database under ``workdir``) or bare relay, stopped on the way out."""
    if name == "app":
        app = start_app(workdir, f"http://127.0.0.1:{free_port()}", APP_ENV)
        try:
            yield Server("app", app.url, app.process.pid, app.db_path)
        finally:
            app.stop()
        return
    process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "bare_relay.py"), "--port", "0"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 60)
        match = re.search(r"listening on (http://\S+)", line)
        if match is None:
            raise RuntimeError("the bare relay did not start:\n" + line)
        threading.Thread(target=process.stdout.read, daemon=True).start()  # keep its output flowing
        yield Server("bare", match.group(1), process.pid)
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


@dataclasses.dataclass
class Rig:
    """One server with its conversations set up, and what was measured on it so far."""

    server: Server
    customers: Worker
    agents: Worker
    size: int
    setup_seconds: float = 0.0  # connect, start, first message (queued), for all N
    accept_seconds: float = 0.0
    relay_ms: list[float] = dataclasses.field(default_factory=list)  # customer -> agent, sent while measuring
    reply_ms: list[float] = dataclasses.field(default_factory=list)  # agent -> customer
    relayed: int = 0  # messages that arrived while measuring, both directions
    measured_seconds: float = 0.0
    cpu_seconds: float = 0.0  # the server's, while measuring
    lost: int = 0  # sent but never received
    errors: int = 0  # refused acks, failed emits
    flood_per_second: float = 0.0
    # The server's CPU seconds (user + system, all its threads) for each phase: on a machine shared with other
    # work, wall-clock times stretch with the load, CPU time much less.
    setup_cpu: float = 0.0
    accept_cpu: float = 0.0
    flood_cpu_ms: float = 0.0  # per message received by the agents


async def drained(expected: int, count: Any) -> None:
    deadline = time.time() + DRAIN_SECONDS
    while await count() < expected and time.time() < deadline:
        await asyncio.sleep(0.2)


def arrived_between(pairs: list[tuple[float, float]], start: float, end: float) -> int:
    return sum(start <= received < end for _, received in pairs)


def latencies_ms(pairs: list[tuple[float, float]], start: float, end: float) -> list[float]:
    return [(received - sent) * 1000 for sent, received in pairs if start <= sent < end]


async def set_up(rig: Rig, batch_size: int) -> None:
    await rig.customers("ready")
    await rig.agents("open", tokens=await rig.server.agent_tokens(math.ceil(rig.size / CAPACITY)))
    for first in range(0, rig.size, batch_size):  # the queue never holds more than a batch
        started, cpu = time.perf_counter(), cpu_seconds(rig.server.pid)
        batch = await rig.customers("open", count=min(batch_size, rig.size - first),
                                    escalate=rig.server.name == "app")
        rig.setup_seconds += time.perf_counter() - started
        rig.setup_cpu += cpu_seconds(rig.server.pid) - cpu
        cpu = cpu_seconds(rig.server.pid)
        rig.accept_seconds += await rig.agents("accept", conversation_ids=batch)
        rig.accept_cpu += cpu_seconds(rig.server.pid) - cpu


async def paced(rig: Rig, warmup: float, seconds: float, interval: float) -> None:
    """One paced segment: ``warmup`` seconds unmeasured, then ``seconds`` measured."""
    await rig.agents("record", reply=True)
    start = time.time() + 1.0
    measure_from, measure_to = start + warmup, start + warmup + seconds
    pacing = asyncio.create_task(rig.customers("pace", start_at=start, seconds=warmup + seconds, interval=interval))
    await asyncio.sleep(measure_from - time.time())
    cpu_from = cpu_seconds(rig.server.pid)
    await asyncio.sleep(measure_to - time.time())
    rig.cpu_seconds += cpu_seconds(rig.server.pid) - cpu_from
    sent = await pacing
    await drained(sent, lambda: rig.agents("count"))
    at_agents = await rig.agents("report")
    await drained(len(at_agents["received"]), lambda: rig.customers("count"))
    at_customers = await rig.customers("report")
    received, replies = at_agents["received"], at_customers["replies"]
    rig.relay_ms += latencies_ms(received, measure_from, measure_to)
    rig.reply_ms += latencies_ms(replies, measure_from, measure_to)
    rig.relayed += arrived_between(received, measure_from, measure_to) + arrived_between(replies, measure_from,
                                                                                         measure_to)
    rig.measured_seconds += seconds
    rig.lost += (sent - len(received)) + (len(received) - len(replies))  # messages, then answers
    rig.errors += at_agents["errors"] + at_customers["errors"]


async def flood(rig: Rig, seconds: float) -> None:
    """Customers send as fast as their acks come back; agents only receive."""
    await rig.agents("record", reply=False)
    flood_from, cpu = time.time(), cpu_seconds(rig.server.pid)
    sent = await rig.customers("flood", seconds=seconds)
    flood_to = time.time()
    await drained(sent, lambda: rig.agents("count"))
    cpu = cpu_seconds(rig.server.pid) - cpu
    flooded = (await rig.agents("report"))["received"]
    rig.flood_per_second = arrived_between(flooded, flood_from, flood_to) / (flood_to - flood_from)
    rig.flood_cpu_ms = cpu * 1000 / max(1, len(flooded))


async def relay_runs(size: int, workdir: Path, args: argparse.Namespace) -> list[Rig]:
    """The bare relay and a fresh app, both set up with ``size`` conversations, measured in
    alternating segments so that whatever else the machine does falls on both alike."""
    async with (running("bare", workdir / "bare") as bare, running("app", workdir / "app") as app,
                workers(*[(role, server.url) for server in (bare, app) for role in ("customers", "agents")])
                as loads):
        rigs = [Rig(bare, loads[0], loads[1], size), Rig(app, loads[2], loads[3], size)]
        for rig in rigs:
            print(f"relay, N = {size:,}: setting up {rig.server.name} ...", flush=True)
            await set_up(rig, args.setup_batch)
        for segment in range(args.rounds):
            for rig in rigs:
                print(f"relay, N = {size:,}: {rig.server.name}, segment {segment + 1} of {args.rounds} ...",
                      flush=True)
                await paced(rig, args.warmup if segment == 0 else 0.0, args.seconds / args.rounds, args.interval)
        if args.flood_seconds > 0:
            for rig in rigs:
                print(f"relay, N = {size:,}: {rig.server.name}, flood ...", flush=True)
                await flood(rig, args.flood_seconds)
    return rigs


@dataclasses.dataclass
class IdleResult:
    server: str
    customers: int
    connected: int
    connect_seconds: float
    rss_before_mb: float
    rss_after_mb: float
    rss_peak_mb: float  # VmHWM: the most the process ever held, connecting included


async def idle_run(server: Server, count: int, processes: int, hold: float) -> IdleResult:
    await asyncio.sleep(2)  # settle after start-up
    before = memory_mb(server.pid)
    shares = [count // processes + (i < count % processes) for i in range(processes)]
    async with workers(*[("customers", server.url)] * processes) as loads:
        await asyncio.gather(*(load("ready") for load in loads))  # spawned and imported, before the clock
        started = time.perf_counter()
        await asyncio.gather(*(load("open", count=share, escalate=False) for load, share in zip(loads, shares,
                                                                                              strict=True)))
        connect = time.perf_counter() - started
        await asyncio.sleep(hold)
        connected = sum(await asyncio.gather(*(load("connected") for load in loads)))
        after, peak = memory_mb(server.pid), memory_mb(server.pid, "VmHWM")
    return IdleResult(server.name, count, connected, connect, before, after, peak)


def relay_table(results: list[Rig], args: argparse.Namespace) -> list[str]:
    lines = [
        f"paced: one message per conversation every {args.interval:g} s (N / {args.interval:g} per second "
        f"customer -> agent, each answered at once); {args.warmup:g} s warm-up, {args.seconds:g} s measured "
        f"in {args.rounds} segments alternating between the servers; "
        f"flood: {args.flood_seconds:g} s, one message in flight per conversation, no answers",
        "",
        "| N | server | setup s (connect, start, queue / accept) | relay c->a p50 / p99 ms | answer a->c p50 / p99 ms "
        "| relayed msg/s | server CPU (cores) | lost | errors | flood c->a msg/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    cpu = ["", "server CPU seconds (all its threads): setup / accept; flood: CPU ms per relayed message", "",
           "| N | server | setup CPU s | accept CPU s | flood CPU ms / message |", "|---|---|---|---|---|"]
    cpu += [f"| {r.size:,} | {r.server.name} | {r.setup_cpu:.1f} | {r.accept_cpu:.1f} | {r.flood_cpu_ms:.2f} |"
            for r in results]
    for r in results:
        def cell(values: list[float]) -> str:
            if not values:
                return "-"
            return f"{statistics.median(values):.1f} / {percentile(values, 0.99):.1f}"

        seconds = max(r.measured_seconds, 1e-9)
        lines.append(
            f"| {r.size:,} | {r.server.name} | {r.setup_seconds:.1f} / {r.accept_seconds:.1f} | {cell(r.relay_ms)} "
            f"| {cell(r.reply_ms)} | {r.relayed / seconds:.0f} | {r.cpu_seconds / seconds:.2f} | {r.lost} "
            f"| {r.errors} | {r.flood_per_second:.0f} |"
        )
    return lines + cpu


def idle_table(results: list[IdleResult]) -> list[str]:
    lines = [
        "| server | idle customers connected | connect s | RSS before MB | RSS holding them MB | per customer KB "
        "| peak (VmHWM) MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        per = (r.rss_after_mb - r.rss_before_mb) * 1024 / max(1, r.connected)
        lines.append(f"| {r.server} | {r.connected:,} of {r.customers:,} | {r.connect_seconds:.1f} "
                     f"| {r.rss_before_mb:.0f} | {r.rss_after_mb:.0f} | {per:.0f} | {r.rss_peak_mb:.0f} |")
    return lines


def verdicts(relays: list[Rig], idles: list[IdleResult]) -> list[str]:
    lines = []
    for size in sorted({r.size for r in relays}):
        by = {r.server.name: r for r in relays if r.size == size}
        if {"app", "bare"} <= by.keys() and by["app"].relay_ms and by["bare"].relay_ms:
            app, bare = percentile(by["app"].relay_ms, 0.99), percentile(by["bare"].relay_ms, 0.99)
            ratio = app / bare
            line = f"N = {size:,}: p99 relay app {app:.1f} ms / bare {bare:.1f} ms = {ratio:.2f}x"
            if size == 1000:
                line += (f" (target <= {RELAY_P99_TARGET:g}x: "
                         f"{'met' if ratio <= RELAY_P99_TARGET else f'missed by {ratio / RELAY_P99_TARGET:.1f}x'})")
            lines.append(line)
    for r in idles:
        if r.server == "app":
            met = r.connected == r.customers and r.rss_after_mb < IDLE_RSS_TARGET_MB
            lines.append(f"idle: app holding {r.connected:,} customers at {r.rss_after_mb:.0f} MB RSS "
                         f"(target {r.customers:,} under {IDLE_RSS_TARGET_MB:g} MB: {'met' if met else 'missed'})")
    return lines


async def main(args: argparse.Namespace) -> None:
    relay_load.raise_fd_limit()  # inherited by the app and the bare relay
    relays: list[Rig] = []
    idles: list[IdleResult] = []
    with TemporaryDirectory() as tmp:
        for size in args.sizes:
            relays += await relay_runs(size, Path(tmp) / f"relay-{size}", args)
        if args.idle:
            for name in ("bare", "app"):
                async with running(name, Path(tmp) / f"{name}-idle") as server:
                    print(f"idle, {args.idle:,} customers, {name} ...", flush=True)
                    idles.append(await idle_run(server, args.idle, args.idle_processes, args.idle_hold))

    print(f"\n{time.strftime('%Y-%m-%d')}, {os.cpu_count()} vCPU {cpu_model()}\n")
    if relays:
        print("\n".join(relay_table(relays, args)), "\n")
    if idles:
        print("\n".join(idle_table(idles)), "\n")
    print("\n".join(verdicts(relays, idles)))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000", help="conversations, comma-separated (default 100,1000)")
    parser.add_argument("--interval", type=float, default=20.0, help="seconds between a customer's messages")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=45.0, help="measured seconds of the paced phase")
    parser.add_argument("--rounds", type=int, default=3, help="segments the paced phase is measured in")
    parser.add_argument("--flood-seconds", type=float, default=10.0, help="0: no flood phase")
    parser.add_argument("--setup-batch", type=int, default=SETUP_BATCH,
                        help="customers queued, then accepted, at a time while setting up")
    parser.add_argument("--idle", type=int, default=5000, help="idle customers (0: no idle test)")
    parser.add_argument("--idle-processes", type=int, default=2)
    parser.add_argument("--idle-hold", type=float, default=30.0, help="seconds the idle customers stay")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    return args


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # stop the servers and load processes on the way out, as for Ctrl+C


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    asyncio.run(main(parse_args()))
