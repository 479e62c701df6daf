"""The bot under load: many customers asking knowledge-base questions at once, over REST and socket.io.

Starts the app and Rasa on loopback (as the tests do), then for each transport (``--transport``: the
customers' REST API of docs/mobile.md, the widget's socket.io namespace /chat, or both) runs rounds of
1 (the baseline, in the same run: ``--baseline-runs`` customers one after the other), 50 and 200
customers at once (``--customers``). Every customer of a round first starts a conversation; then all
of them, at once, ask ``--questions`` questions one after the other, each waiting for the bot's reply
before the next. The questions are the quality gate's answerable ones
(training_data/regression-questions.yml: how customers ask, in English, German and Arabic, in words
that are not an article's examples) that the bot answers with an article when asked alone (a first
pass, one at a time, which warms both servers up too): so every customer asks all its questions unless
the bot fails. A customer whose question is handed over asks no more (the case is with the agents'
queue then).

For each round it prints: answered questions per second (bot replies over the round's wall time, from
the first question to the last reply), p50/p95/p99 of the answer latency (the customer's send to the
bot's reply: over REST the POST, then the long poll for the reply; over socket.io ``send_message``
to the bot's ``message_created``), the replies by kind (answer, clarify, handoff...), the hand-overs by
reason (the cases' ``escalation_reason`` in the app's database), the CPU time the app and Rasa used per
reply (from /proc: on a shared machine a steadier measure than wall time) and their peak RSS (with their
child processes, sampled every 0.2 s during the round).

    .venv/bin/python bench/bot_load.py [--customers 1 50 200] [--questions 3] [--transport rest socket]
                                       [--baseline-runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.turn_latency import percentile  # noqa: E402
from harness.clients import Recorder  # noqa: E402
from harness.servers import app_and_rasa  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
REPLY_TIMEOUT = 60.0  # longer than the app's Rasa timeout: a hand-over as "bot unavailable" is counted, not lost
TRANSPORTS = ("rest", "socket")


def questions() -> list[str]:
    """The quality gate's questions that an article answers."""
    found = yaml.safe_load((ROOT / "training_data" / "regression-questions.yml").read_text())["questions"]
    return [q["question"] for q in found if q["answer"] != "escalate"]


@dataclasses.dataclass
class Round:
    transport: str
    customers: int
    latencies: list[float] = dataclasses.field(default_factory=list)  # seconds
    kinds: Counter[str] = dataclasses.field(default_factory=Counter)
    failures: Counter[str] = dataclasses.field(default_factory=Counter)
    conversations: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    rss: dict[str, float] = dataclasses.field(default_factory=dict)  # MB, peak
    cpu: dict[str, float] = dataclasses.field(default_factory=dict)  # seconds used during the round
    reasons: Counter[str] = dataclasses.field(default_factory=Counter)

    def replied(self, started: float, data: dict[str, Any]) -> bool:
        """Record a bot reply; whether the customer may ask again (not handed over, not resolved)."""
        self.latencies.append(time.perf_counter() - started)
        kind = str(data.get("kind") or "text")
        self.kinds[kind] += 1
        return kind not in ("handoff", "resolved")


class RestCustomer:
    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url = http, url
        self.conversation = self.token = ""
        self.seq = 0

    async def start(self) -> str:
        async with self.http.post(f"{self.url}/api/conversations", json={"channel": "mobile"}) as answer:
            assert answer.status == 201, await answer.text()
            started = await answer.json()
        self.conversation, self.token = started["conversation"]["id"], started["token"]
        return self.conversation

    async def ask(self, text: str) -> dict[str, Any]:
        """Send ``text``; the bot's reply's data, once it is stored."""
        headers = {"Authorization": f"Bearer {self.token}"}
        base = f"{self.url}/api/conversations/{self.conversation}/messages"
        async with self.http.post(base, json={"text": text}, headers=headers) as answer:
            assert answer.status == 201, await answer.text()
            self.seq = (await answer.json())["message"]["seq"]
        while True:
            async with self.http.get(base, params={"after_seq": str(self.seq), "wait": "25"},
                                     headers=headers) as answer:
                assert answer.status == 200, await answer.text()
                found = (await answer.json())["messages"]
            for message in found:
                self.seq = max(self.seq, message["seq"])
                if message["sender"] == "bot":
                    return dict(message.get("data") or {})

    async def close(self) -> None:
        pass


class SocketCustomer:
    def __init__(self, url: str) -> None:
        self.recorder = Recorder(url, "/chat")

    async def start(self) -> str:
        await self.recorder.connect()
        started = await self.recorder.ok("start_conversation", {"channel": "web"})
        return str(started["conversation"]["id"])

    async def ask(self, text: str) -> dict[str, Any]:
        sent = await self.recorder.ok("send_message", {"text": text})
        seq = sent["message"]["seq"]
        reply = await self.recorder.wait_for("message_created", lambda m: m["sender"] == "bot" and m["seq"] > seq)
        return dict(reply.get("data") or {})

    async def close(self) -> None:
        await self.recorder.close()


def family(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        with contextlib.suppress(OSError, ValueError):
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
    return found


def rss_mb(pid: int) -> float:
    """The resident memory of ``pid`` and its descendants, in MB (0 once it is gone)."""
    total = 0.0
    for member in family(pid):
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
    return total


def cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) ``pid`` and its descendants have used so far."""
    total = 0.0
    for member in family(pid):
        with contextlib.suppress(OSError, ValueError):
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


async def sample_rss(pids: dict[str, int], peak: dict[str, float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for name, pid in pids.items():
            peak[name] = max(peak.get(name, 0.0), rss_mb(pid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.2)


async def run_round(transport: str, customers: int, asked: int, url: str, pids: dict[str, int],
                    texts: list[str], offset: int) -> Round:
    result = Round(transport, customers)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        people = [RestCustomer(http, url) if transport == "rest" else SocketCustomer(url) for _ in range(customers)]
        result.conversations = list(await asyncio.gather(*(p.start() for p in people)))
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_rss(pids, result.rss, stop))

        async def customer(n: int, person: RestCustomer | SocketCustomer) -> None:
            for k in range(asked):
                started = time.perf_counter()
                try:
                    data = await asyncio.wait_for(person.ask(texts[(offset + n * asked + k) % len(texts)]),
                                                  REPLY_TIMEOUT)
                except Exception as exc:  # counted: a bench reports what went wrong, and goes on
                    result.failures[type(exc).__name__] += 1
                    return
                if not result.replied(started, data):
                    return

        began, cpu = time.perf_counter(), {name: cpu_seconds(pid) for name, pid in pids.items()}
        await asyncio.gather(*(customer(n, p) for n, p in enumerate(people)))
        result.seconds = time.perf_counter() - began
        result.cpu = {name: cpu_seconds(pid) - cpu[name] for name, pid in pids.items()}
        stop.set()
        await sampler
        await asyncio.gather(*(p.close() for p in people))
    return result


def handovers(db: Path, conversations: list[str]) -> Counter[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            f"SELECT escalation_reason FROM conversations WHERE escalation_reason IS NOT NULL AND id IN "
            f"({','.join('?' * len(conversations))})", conversations).fetchall()
    return Counter(str(reason) for (reason,) in rows)


def cpu_ms(r: Round, name: str) -> float:
    """CPU milliseconds ``name`` used per reply during the round."""
    return 1000 * r.cpu.get(name, 0.0) / max(1, len(r.latencies))


def report(rounds: list[Round]) -> None:
    print(f"{'transport':9} {'customers':>9} {'replies':>7} {'seconds':>7} {'per s':>6} {'p50':>6} {'p95':>6} "
          f"{'p99':>6} {'app ms':>6} {'Rasa ms':>7} {'app MB':>7} {'Rasa MB':>7}  "
          "replies by kind; hand-overs by reason; failures")
    for r in rounds:
        done = len(r.latencies)
        p = [percentile(r.latencies, q) if r.latencies else float("nan") for q in (0.5, 0.95, 0.99)]
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(r.kinds.items()))
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(r.reasons.items())) or "none"
        failures = ", ".join(f"{k} {v}" for k, v in sorted(r.failures.items())) or "none"
        print(f"{r.transport:9} {r.customers:9} {done:7} {r.seconds:7.1f} {done / r.seconds:6.1f} {p[0]:6.2f} "
              f"{p[1]:6.2f} {p[2]:6.2f} {cpu_ms(r, 'app'):6.1f} {cpu_ms(r, 'rasa'):7.1f} "
              f"{r.rss.get('app', 0):7.0f} {r.rss.get('rasa', 0):7.0f}  "
              f"{kinds}; {reasons}; {failures}")


def merged(parts: list[Round]) -> Round:
    """Rounds one after the other as one round (the one-customer baseline)."""
    whole = Round(parts[0].transport, parts[0].customers)
    for part in parts:
        whole.latencies += part.latencies
        whole.kinds += part.kinds
        whole.failures += part.failures
        whole.conversations += part.conversations
        whole.seconds += part.seconds
        whole.cpu = {name: whole.cpu.get(name, 0.0) + used for name, used in part.cpu.items()}
        whole.rss = {name: max(whole.rss.get(name, 0.0), mb) for name, mb in part.rss.items()}
    return whole


async def answered_alone(url: str, texts: list[str]) -> list[str]:
    """Those of ``texts`` the bot answers with an article, each asked alone in a conversation of its own."""
    kept = []
    async with aiohttp.ClientSession() as http:
        for text in texts:
            person = RestCustomer(http, url)
            await person.start()
            if (await person.ask(text)).get("kind") == "answer":
                kept.append(text)
    return kept


async def main(customers: list[int], asked: int, transports: list[str], baseline_runs: int) -> None:
    rounds: list[Round] = []
    with TemporaryDirectory() as tmp, app_and_rasa(Path(tmp)) as (app, rasa):
        pids = {"app": app.process.pid, "rasa": rasa.process.pid}
        texts = await answered_alone(app.url, questions())
        print(f"  {len(texts)} of the answerable questions answered alone", flush=True)
        offset = 0
        for transport in transports:
            for n in customers:
                runs = baseline_runs if n == 1 else 1
                parts = []
                for _ in range(runs):
                    parts.append(await run_round(transport, n, asked, app.url, pids, texts, offset))
                    offset += n * asked
                done = merged(parts)
                done.reasons = handovers(app.db_path, done.conversations)
                rounds.append(done)
                print(f"  {transport} {n}: {len(done.latencies)} replies in {done.seconds:.1f} s", flush=True)
    print(f"{asked} questions per customer, one after the other; latencies in seconds; "
          f"1 customer: {baseline_runs} customers one after the other")
    report(rounds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[1, 50, 200])
    parser.add_argument("--questions", type=int, default=3, help="each customer's, one after the other")
    parser.add_argument("--transport", nargs="+", choices=TRANSPORTS, default=list(TRANSPORTS))
    parser.add_argument("--baseline-runs", type=int, default=20, help="customers one after the other, for 1")
    options = parser.parse_args()
    asyncio.run(main(options.customers, options.questions, options.transport, options.baseline_runs))
