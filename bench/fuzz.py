"""The full fuzzing run (tests/test_fuzzing.py runs a small budget of the same): schemathesis over the whole
OpenAPI document the app serves (each operation, then chains of calls), and seeded random and malformed
socket.io events and frames on ``/chat`` and ``/agent`` (harness/fuzzing.py), against an app process on
loopback with its own database and a copy of the articles, nothing listening where Rasa should be. Prints
what was sent, the answers by status or code, every finding (a 5xx, an ``internal`` error, an answer
outside the one error shape) and the tracebacks in the app's log; exits 1 when there is any.

    .venv/bin/python bench/fuzz.py [--rest-examples 40] [--stateful-scenarios 300] [--socket-events 6000] [--seed 17]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.clients import http_json, sign_in  # noqa: E402
from harness.fuzzing import Findings, fuzz_rest, fuzz_sockets, fuzz_stateful  # noqa: E402
from harness.servers import free_port, start_app  # noqa: E402


def report(name: str, found: Findings, seconds: float) -> None:
    answers = ", ".join(f"{key}: {count}" for key, count in sorted(found.answers.items()))
    print(f"{name}: {found.sent} inputs in {seconds:.0f} s; findings: {len(found.problems)}; answers: {answers}")
    for problem in found.problems[:50]:
        print(f"  FINDING {problem}")


async def main(rest_examples: int, stateful_scenarios: int, socket_events: int, seed: int) -> int:
    with TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        shutil.copytree(ROOT / "training_data" / "articles", workdir / "articles")
        app = start_app(workdir, f"http://127.0.0.1:{free_port()}",
                        {"CASEDESK_ARTICLES_DIR": str(workdir / "articles")})
        try:
            app.add_agent("plain")
            _, started = await http_json("POST", f"{app.url}/api/conversations", {"name": "Dana"})
            _, document = await http_json("GET", f"{app.url}/api/openapi.json")
            staff = await sign_in(app.url)
            conversation_id = started["conversation"]["id"]
            _, case = await http_json("GET", f"{app.url}/api/cases/{conversation_id}", token=staff)
            known = {"conversation_id": conversation_id, "contact_id": case["case"]["customer_id"],
                     "article_id": "bike-returns"}
            began = time.monotonic()
            rest = await asyncio.to_thread(fuzz_rest, app.url, document, {"customer": started["token"], "staff": staff},
                                           rest_examples, await sign_in(app.url, "plain"), await sign_in(app.url),
                                           known)
            report(f"REST ({len(document['paths'])} paths, schemathesis)", rest, time.monotonic() - began)
            began = time.monotonic()
            stateful = await asyncio.to_thread(fuzz_stateful, app.url, document, staff, await sign_in(app.url, "plain"),
                                               await sign_in(app.url), stateful_scenarios)
            report("REST, stateful (schemathesis's inferred links)", stateful, time.monotonic() - began)
            rest.add(stateful)
            began = time.monotonic()
            sockets = await fuzz_sockets(app.url, await sign_in(app.url), socket_events, seed)
            report(f"sockets (/chat, /agent; seed {seed})", sockets, time.monotonic() - began)
        finally:
            app.stop()
        log = "".join(app.output)
        tracebacks = log.count("Traceback")
        print(f"total: {rest.sent + sockets.sent} inputs; findings: {len(rest.problems) + len(sockets.problems)}; "
              f"tracebacks in the app's log: {tracebacks}; app log lines: {len(log.splitlines())}")
        if tracebacks:
            print(log[-5000:])
        return 1 if tracebacks or rest.problems or sockets.problems else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rest-examples", type=int, default=40, help="cases per operation, mode and token")
    parser.add_argument("--stateful-scenarios", type=int, default=300, help="chains of up to 6 calls")
    parser.add_argument("--socket-events", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.rest_examples, args.stateful_scenarios, args.socket_events, args.seed)))
