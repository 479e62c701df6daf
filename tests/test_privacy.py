"""Privacy through a real app process (docs/privacy.md): what people write is masked before it is stored,
delivered or sent to the bot; a supervisor exports and deletes one contact's data over REST and with
`casedesk contact`; retention deletes cases closed long ago."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from handoff import cli
from handoff.store.records import Status, utcnow
from handoff.store.sql import SqlCaseStore
from harness.clients import Recorder, agent_socket, http_json, sign_in, until
from harness.servers import ROOT, AppProcess, free_port, serve_app, start_app

VISA, MASTERCARD = "4242 4242 4242 4242", "5555555555554444"
HANDOFF = [{"custom": {"text": "Let me get you a person.", "data": {"kind": "handoff", "reason": "customer_request"},
                       "handoff": "customer_request"}}]


class FakeRasa:
    """Rasa's REST channel on loopback (Rasa is a third party here): keeps what it was sent, hands over."""

    def __init__(self) -> None:
        received = self.received = []  # type: list[dict[str, Any]]

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer(b"Hello from Rasa")

            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self._answer(json.dumps(HANDOFF).encode())

            def _answer(self, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, rasa: FakeRasa) -> Iterator[AppProcess]:
    """The app, masking cards and phone numbers (not e-mail addresses) in transcripts."""
    process = start_app(tmp_path_factory.mktemp("privacy"), rasa.url,
                        settings_file='mask_in_transcripts = ["card", "phone"]\n')
    process.add_agent("sam", roles=["agent"])
    yield process
    process.stop()


async def customer_with_agent(url: str, first: str) -> tuple[Recorder, str, Recorder, str]:
    """A customer whose first message is handed over, and the first agent (every role), who accepted it."""
    customer = Recorder(url, "/chat")
    await customer.connect()
    await customer.ok("start_conversation", {"channel": "web", "name": "Dana"})
    sent = await customer.ok("send_message", {"text": first})
    conversation_id = sent["message"]["conversation_id"]
    await customer.wait_for("case_updated", lambda c: c["status"] == "queued")
    token = await sign_in(url)
    agent = await agent_socket(url, token)
    await agent.ok("accept_case", {"conversation_id": conversation_id})
    return customer, conversation_id, agent, token


async def test_what_people_write_is_masked_before_it_is_stored_sent_to_the_bot_or_delivered(
    app: AppProcess, rasa: FakeRasa,
) -> None:
    first = f"My card is {VISA}, call me on 0151 23456789 or mail dana@example.com"
    masked = "My card is [card ••••4242], call me on [phone] or mail dana@example.com"
    customer = Recorder(app.url, "/chat")
    await customer.connect()
    await customer.ok("start_conversation", {"channel": "web", "name": "Dana"})
    sent = await customer.ok("send_message", {"text": first})
    conversation_id = sent["message"]["conversation_id"]
    assert sent["message"]["text"] == masked  # the ack, and the customer's own message as it arrives
    own = await customer.wait_for("message_created", lambda m: m["sender"] == "customer")
    assert own["text"] == masked
    assert [r["message"] for r in rasa.received if r["sender"] == conversation_id] == [masked]  # the bot's tracker

    await customer.wait_for("case_updated", lambda c: c["status"] == "queued")
    token = await sign_in(app.url)
    agent = await agent_socket(app.url, token)
    accepted = await agent.ok("accept_case", {"conversation_id": conversation_id})
    assert accepted["messages"][0]["text"] == masked
    text = f"I see the card ending 4444 ({MASTERCARD}); we call +49 30 1234567"
    reply = await agent.ok("send_message", {"conversation_id": conversation_id, "text": text})
    assert reply["message"]["text"] == "I see the card ending 4444 ([card ••••4444]); we call [phone]"
    delivered = await customer.wait_for("message_created", lambda m: m["sender"] == "agent")
    assert delivered["text"] == reply["message"]["text"]
    note = await agent.ok("add_note", {"conversation_id": conversation_id, "text": f"customer read out {VISA}"})
    assert note["message"]["text"] == "customer read out [card ••••4242]"
    await agent.ok("resolve_case", {"conversation_id": conversation_id, "category": "question_answered"})
    await customer.wait_for("case_updated", lambda c: c["status"] == "resolved")
    await customer.ok("answer_survey", {"rating": 5, "comment": f"charge {MASTERCARD} again next time"})

    status, case = await http_json("GET", f"{app.url}/api/cases/{conversation_id}", token=token)
    assert status == 200
    texts = [m["text"] for m in case["messages"]]
    assert masked in texts and note["message"]["text"] in texts and reply["message"]["text"] in texts
    assert case["case"]["title"] == masked
    assert case["case"]["survey"]["comment"] == "charge [card ••••4444] again next time"
    for c in (customer, agent):
        await c.close()
    # The database holds neither card nor the phone numbers, in any form the app wrote.
    stored = b"".join(p.read_bytes() for p in app.db_path.parent.glob(app.db_path.name + "*"))
    for secret in (VISA, MASTERCARD, "4242424242424242", "0151 23456789", "30 1234567"):
        assert secret.encode() not in stored, secret
    assert b"dana@example.com" in stored  # e-mail addresses are not in this app's mask_in_transcripts


def checkpointed(db_path: Path) -> bytes:
    """The database file's bytes once every change in its write-ahead log is in it."""
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        for _ in range(50):
            busy, log, done = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if not busy and log == done:
                return db_path.read_bytes()
            time.sleep(0.1)
    raise AssertionError("the write-ahead log could not be checkpointed")


async def test_a_supervisor_exports_and_deletes_one_contact(app: AppProcess) -> None:
    customer, conversation_id, agent, token = await customer_with_agent(app.url, "where is my parcel?")
    await agent.ok("add_note", {"conversation_id": conversation_id, "text": "prefers e-mail, zx81-marker"})
    _, case = await http_json("GET", f"{app.url}/api/cases/{conversation_id}", token=token)
    contact_id = case["case"]["customer_id"]
    other, other_id, other_agent, _ = await customer_with_agent(app.url, "another person's question")

    # Agents without the supervisor role, and nobody signed in, get nothing.
    plain = await sign_in(app.url, "sam")
    for method, path in (("GET", f"/api/contacts/{contact_id}/export"), ("DELETE", f"/api/contacts/{contact_id}")):
        status, body = await http_json(method, app.url + path, token=plain)
        assert (status, body["error"]["code"]) == (403, "forbidden"), path
        assert "supervisor" in body["error"]["message"]
        status, body = await http_json(method, app.url + path)
        assert (status, body["error"]["code"]) == (401, "unauthorized"), path
        status, body = await http_json(method, app.url + path.replace(contact_id, "u_nobody"), token=token)
        assert (status, body["error"]["code"]) == (404, "not_found"), path

    status, document = await http_json("GET", f"{app.url}/api/contacts/{contact_id}/export", token=token)
    assert status == 200
    assert document["contact"]["id"] == contact_id and document["contact"]["display_name"] == "Dana"
    [exported] = document["cases"]
    assert exported["id"] == conversation_id and exported["status"] == "with_agent"
    assert [m["text"] for m in exported["messages"] if m["sender"] in ("customer", "note")] == [
        "where is my parcel?", "prefers e-mail, zx81-marker"]
    assert [e["to_status"] for e in exported["case_events"]] == ["bot", "queued", "with_agent"]
    assert other_id not in json.dumps(document)

    status, body = await http_json("DELETE", f"{app.url}/api/contacts/{contact_id}", token=token)
    assert (status, body["error"]["code"]) == (409, "conflict")
    assert "open cases" in body["error"]["message"] and "nothing was deleted" in body["error"]["message"]
    assert (await http_json("GET", f"{app.url}/api/cases/{conversation_id}", token=token))[0] == 200

    await agent.ok("resolve_case", {"conversation_id": conversation_id, "category": "question_answered"})
    assert b"zx81-marker" in checkpointed(app.db_path)
    status, body = await http_json("DELETE", f"{app.url}/api/contacts/{contact_id}", token=token)
    assert status == 200
    assert b"zx81-marker" not in checkpointed(app.db_path)  # overwritten, not only unlinked (secure_delete)
    assert body["deleted"]["contact_id"] == contact_id and body["deleted"]["cases"] == 1
    assert body["deleted"]["rows"]["messages"] == len(exported["messages"]) + 1  # and the survey request
    status, gone = await http_json("GET", f"{app.url}/api/cases/{conversation_id}", token=token)
    assert (status, gone["error"]["code"]) == (404, "not_found")
    status, _ = await http_json("GET", f"{app.url}/api/contacts/{contact_id}/export", token=token)
    assert status == 404
    # the deleted customer's socket can write no more; the other contact carries on
    refused = await customer.call("send_message", {"text": "hello?"})
    assert refused["error"]["code"] == "not_found"
    await other.ok("send_message", {"text": "still here"})
    assert (await http_json("GET", f"{app.url}/api/cases/{other_id}", token=token))[0] == 200
    for c in (customer, agent, other, other_agent):
        await c.close()


def casedesk(app: AppProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "handoff", *args], cwd=ROOT, env=app.env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120)


async def casedesk_here(app: AppProcess, capsys: pytest.CaptureFixture[str],
                        *args: str) -> subprocess.CompletedProcess[str]:
    """The same command through `cli.main` in this process (in a thread: the test's loop runs here), as a
    process each costs a second or more."""
    capsys.readouterr()
    code = await asyncio.to_thread(cli.main, list(args), app.env)
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), code, out, err)


async def test_operators_export_and_delete_a_contact_from_the_command_line(
        app: AppProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`casedesk contact`: as a process where there is no terminal to ask and for a refusal's exit status,
    the other calls through `cli.main` in this process."""
    customer, conversation_id, agent, token = await customer_with_agent(app.url, "my order VC-2048113?")
    _, case = await http_json("GET", f"{app.url}/api/cases/{conversation_id}", token=token)
    contact_id = case["case"]["customer_id"]

    printed = await casedesk_here(app, capsys, "contact", "export", contact_id)
    assert printed.returncode == 0, printed.stderr
    document = json.loads(printed.stdout)
    assert [c["id"] for c in document["cases"]] == [conversation_id]
    assert document["cases"][0]["messages"][0]["text"] == "my order VC-2048113?"
    output = tmp_path / "contact.json"
    written = await casedesk_here(app, capsys, "contact", "export", contact_id, "--output", str(output))
    assert written.returncode == 0 and json.loads(output.read_text())["contact"]["id"] == contact_id

    unasked = await asyncio.to_thread(casedesk, app, "contact", "delete", contact_id)  # no terminal, no --yes
    assert unasked.returncode == 0 and "nothing deleted" in unasked.stdout
    refused = await asyncio.to_thread(casedesk, app, "contact", "delete", contact_id, "--yes")
    assert refused.returncode == 1 and "open cases" in refused.stderr
    await agent.ok("resolve_case", {"conversation_id": conversation_id, "category": "question_answered"})
    deleted = await casedesk_here(app, capsys, "contact", "delete", contact_id, "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert f"contact {contact_id} deleted with 1 cases" in deleted.stdout
    unknown = await casedesk_here(app, capsys, "contact", "export", contact_id)
    assert unknown.returncode == 1 and f"contact {contact_id} does not exist" in unknown.stderr
    assert (await http_json("GET", f"{app.url}/api/cases/{conversation_id}", token=token))[0] == 404
    for c in (customer, agent):
        await c.close()


async def test_the_app_deletes_cases_closed_longer_ago_than_retention_days(tmp_path: Path) -> None:
    db_path = tmp_path / "casedesk.db"
    store = await SqlCaseStore.open(f"sqlite+aiosqlite:///{db_path}")
    cases = {}
    for name, days in (("old", 40), ("recent", 10), ("open", None)):
        cases[name] = await store.create_conversation(
            conversation_id=f"c_{name}", token_hash=f"t_{name}", customer_id=f"u_{name}", customer_name=name,
            channel="web", locale="en", status=Status.BOT, actor="customer")
        await store.append_message(f"c_{name}", sender="customer", sender_name=name, text="hello")
        if days is not None:
            await store.change_status(f"c_{name}", expected=Status.BOT, status=Status.RESOLVED,
                                      reason="answer_helped", actor="bot",
                                      fields={"resolution": "bot", "closed_at": utcnow() - timedelta(days=days)})
    await store.close()

    app = serve_app(tmp_path, f"http://127.0.0.1:{free_port()}", {"CASEDESK_RETENTION_DAYS": "30"})
    try:
        store = await SqlCaseStore.open(f"sqlite+aiosqlite:///{db_path}")
        try:
            async def gone() -> bool:
                return await store.conversation("c_old") is None

            for _ in range(100):  # the first purge runs as the app starts
                if await gone():
                    break
                await asyncio.sleep(0.1)
            assert await gone() and await store.messages_after("c_old") == []
            assert await store.customer_conversations("u_old") == []
            assert await store.conversation("c_recent") is not None and await store.conversation("c_open") is not None
            assert len(await store.messages_after("c_open")) == 1
        finally:
            await store.close()
        await until(lambda: any("retention: deleted 1 cases" in line for line in app.output))
    finally:
        app.stop()
