"""Authorization by need through the real app (handoff/cases/access.py, handoff/contacts/directory.py): who
reads a case over REST and acts on it over the socket, who reads and edits a contact; and the audit log of
staff actions (handoff/staff/audit.py), which only supervisors read and export."""

from __future__ import annotations

import csv
import io
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from harness.clients import Recorder, agent_socket, http_json, queued_customer, sign_in
from harness.servers import AppServer, free_port, serve_app
from tests.browser import WAIT_MS, XSS, open_page, shot, sign_in_staff

SETTINGS = """
[[queues]]
name = "german"
languages = ["de"]
skills = ["german"]

[[queues]]
name = "general"

[[agents]]
username = "anna"
skills = ["german"]
"""
NOTE = "customer seems upset about the invoice"
QUESTION = "my fork leaks oil"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """One app for the module, Rasa down (every first message is handed over at once): anna takes the
    german queue, gus and hal only the general one, sue is a supervisor and nothing else."""
    rasa_url = f"http://127.0.0.1:{free_port()}"
    app = serve_app(tmp_path_factory.mktemp("authz"), rasa_url, {"CASEDESK_RASA_TIMEOUT_SECONDS": "2"},
                    settings_file=SETTINGS)
    try:
        for name in ("anna", "gus", "hal"):
            app.add_agent(name)
        app.add_agent("sue", roles=["supervisor"])
        yield app
    finally:
        app.stop()


async def refused(app: AppServer, method: str, path: str, token: str, body: Any = None) -> dict[str, Any]:
    status, reply = await http_json(method, app.url + path, body, token=token)
    assert (status, set(reply), reply["error"]["code"]) == (403, {"error"}, "forbidden"), (path, reply)
    return reply["error"]  # type: ignore[no-any-return]


async def code(agent: Recorder, event: str, payload: dict[str, Any]) -> str:
    ack = await agent.call(event, payload)
    assert ack["ok"] is False, ack
    return str(ack["error"]["code"])


async def audit(app: AppServer, token: str, **filters: str) -> list[dict[str, Any]]:
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    status, body = await http_json("GET", f"{app.url}/api/audit?{query}", token=token)
    assert status == 200, body
    return body["entries"]  # type: ignore[no-any-return]


async def test_agents_read_the_cases_of_their_queues_and_those_they_held(app: AppServer) -> None:
    gus, hal, anna, sue = [await sign_in(app.url, name) for name in ("gus", "hal", "anna", "sue")]
    customer, case_id = await queued_customer(app.url, QUESTION)  # the general queue
    gus_socket, hal_socket = await agent_socket(app.url, gus), await agent_socket(app.url, hal)
    try:
        await gus_socket.ok("accept_case", {"conversation_id": case_id})
        await gus_socket.ok("add_note", {"conversation_id": case_id, "text": NOTE})
        await gus_socket.ok("transfer_case", {"conversation_id": case_id, "note": "German speaker",
                                              "queue": "german"})
        path = f"/api/cases/{case_id}"
        # hal may take neither the german queue nor has he held the case: 403, over REST and the socket
        error = await refused(app, "GET", path, hal)
        assert "german" in error["message"]
        for event, payload in (("accept_case", {}), ("set_typing", {"typing": True}),
                               ("send_message", {"text": "hi"}), ("add_note", {"text": "x"}),
                               ("resolve_case", {"category": "other"}), ("return_to_bot", {}),
                               ("transfer_case", {"note": "x"})):
            assert await code(hal_socket, event, {"conversation_id": case_id, **payload}) == "forbidden", event
        # an unknown case is 404 for everyone
        assert (await http_json("GET", f"{app.url}/api/cases/c_nobody", token=hal))[0] == 404
        assert await code(hal_socket, "accept_case", {"conversation_id": "c_nobody"}) == "not_found"

        # gus held it; anna takes the german queue; sue supervises (no agent role): all read it, notes included
        for token in (gus, anna, sue):
            status, body = await http_json("GET", app.url + path, token=token)
            assert status == 200 and body["case"]["queue"] == "german", body
            assert NOTE in [m["text"] for m in body["messages"]]
        # gus may read it, but it is no longer his to act on
        assert await code(gus_socket, "set_typing", {"conversation_id": case_id, "typing": True}) == "forbidden"
    finally:
        for client in (customer, gus_socket, hal_socket):
            await client.close()


async def test_a_contact_is_read_through_its_cases_and_only_supervisors_change_its_priority(
        app: AppServer) -> None:
    gus, hal, sue = [await sign_in(app.url, name) for name in ("gus", "hal", "sue")]
    first, first_id, token = await queued(app.url, locale="de")  # the german queue
    _, case = await http_json("GET", f"{app.url}/api/cases/{first_id}", token=sue)
    contact = f"/api/contacts/{case['case']['customer_id']}"
    # the contact's only case is in a queue neither gus nor hal may take: nor may they read the contact
    for who in (gus, hal):
        await refused(app, "GET", contact, who)
        await refused(app, "PATCH", contact, who, {"display_name": "Dana"})
    # a second case of the same contact, in the general queue: now gus reads the contact, with that case only
    second, second_id, _ = await queued(app.url, earlier_token=token)
    try:
        status, body = await http_json("GET", app.url + contact, token=gus)
        assert status == 200 and [c["id"] for c in body["contact"]["cases"]] == [second_id], body
        _, detail = await http_json("GET", f"{app.url}/api/cases/{second_id}", token=gus)
        assert detail["case"]["earlier_cases"] == []  # the german one is not his to read
        _, detail = await http_json("GET", f"{app.url}/api/cases/{second_id}", token=sue)
        assert [c["id"] for c in detail["case"]["earlier_cases"]] == [first_id]

        # agents edit the name and e-mail; the preferred flag and the account are the supervisors'
        status, body = await http_json("PATCH", app.url + contact, {"display_name": "Dana", "email": "d@example.com"},
                                       token=gus)
        assert status == 200 and body["contact"]["display_name"] == "Dana"
        for fields in ({"preferred": True}, {"account_id": None}, {"display_name": "X", "preferred": False}):
            error = await refused(app, "PATCH", contact, gus, fields)
            assert "supervisor" in error["message"]
        status, body = await http_json("PATCH", app.url + contact, {"preferred": True}, token=sue)
        assert status == 200 and body["contact"]["preferred"] is True
        assert {c["id"] for c in body["contact"]["cases"]} == {first_id, second_id}
        # searching all contacts and reading accounts are the supervisors' too
        await refused(app, "GET", "/api/contacts?q=Dana", gus)
        status, found = await http_json("GET", f"{app.url}/api/contacts?q=Dana", token=sue)
        assert status == 200 and [c["display_name"] for c in found["contacts"]] == ["Dana"]
    finally:
        for client in (first, second):
            await client.close()


async def queued(url: str, **start: str) -> tuple[Recorder, str, str]:
    """A customer whose first message is handed over at once: their socket, conversation id and token."""
    customer = Recorder(url, "/chat")
    await customer.connect()
    started = await customer.ok("start_conversation", {"channel": "web", **start})
    await customer.ok("send_message", {"text": QUESTION})
    await customer.wait_for("case_updated", lambda c: c["status"] == "queued")
    return customer, started["conversation"]["id"], started["token"]


def download(url: str, token: str) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


async def test_staff_actions_are_audited_and_only_supervisors_read_and_export_the_log(app: AppServer) -> None:
    gus, anna, sue = [await sign_in(app.url, name) for name in ("gus", "anna", "sue")]
    customer, case_id = await queued_customer(app.url, QUESTION)
    other, other_id = await queued_customer(app.url, QUESTION)
    gus_socket, anna_socket = await agent_socket(app.url, gus), await agent_socket(app.url, anna)
    try:
        categories = (await gus_socket.ok("list_cases", {}))["resolution_categories"]
        await gus_socket.ok("accept_case", {"conversation_id": case_id})
        note = await gus_socket.ok("add_note", {"conversation_id": case_id, "text": NOTE})
        await gus_socket.ok("transfer_case", {"conversation_id": case_id, "note": NOTE, "to_agent": "anna"})
        await anna_socket.ok("return_to_bot", {"conversation_id": case_id})
        await gus_socket.ok("accept_case", {"conversation_id": other_id})
        await gus_socket.ok("resolve_case", {"conversation_id": other_id, "category": categories[0]})
        _, third_id = await queued_customer(app.url, QUESTION)
        assert (await http_json("POST", f"{app.url}/api/cases/{third_id}/cancel", {"reason": "spam"},
                                token=sue))[0] == 200
    finally:
        for client in (customer, other, gus_socket, anna_socket):
            await client.close()

    entries = await audit(app, sue, target=f"case:{case_id}")
    assert [(e["action"], e["actor"]) for e in reversed(entries)] == [
        ("case.accept", "gus"), ("case.note", "gus"), ("case.transfer", "gus"), ("case.transfer_to_agent", "gus"),
        ("case.return_to_bot", "anna")]
    assert entries[1]["details"]["to_agent_id"] == entries[0]["actor_id"]
    assert entries[-2]["details"]["seq"] == note["message"]["seq"]
    assert [e["action"] for e in await audit(app, sue, target=f"case:{other_id}")] == ["case.resolve", "case.accept"]
    assert [(e["action"], e["actor"]) for e in await audit(app, sue, target=f"case:{third_id}")] == [
        ("case.cancel", "sue")]

    # contacts, accounts, entitlements, a merge, a contact's export and erasure
    _, case = await http_json("GET", f"{app.url}/api/cases/{other_id}", token=sue)
    contact_id = case["case"]["customer_id"]
    _, account = await http_json("POST", f"{app.url}/api/accounts", {"name": "=Acme"}, token=sue)
    account_id = account["account"]["id"]
    calls = [("PATCH", f"/api/accounts/{account_id}", {"name": "Acme"}),
             ("PATCH", f"/api/contacts/{contact_id}", {"preferred": True, "account_id": account_id}),
             ("POST", "/api/entitlements", {"contact_id": contact_id, "name": "Gold"})]
    for method, path, body in calls:
        status, reply = await http_json(method, app.url + path, body, token=sue)
        assert status in (200, 201), reply
    entitlement_id = reply["entitlement"]["id"]
    assert (await http_json("DELETE", f"{app.url}/api/entitlements/{entitlement_id}", token=sue))[0] == 200
    _, case = await http_json("GET", f"{app.url}/api/cases/{third_id}", token=sue)
    merged = case["case"]["customer_id"]
    merge = await http_json("POST", f"{app.url}/api/contacts/{merged}/merge", {"into": contact_id}, token=sue)
    assert merge[0] == 200, merge
    assert (await http_json("GET", f"{app.url}/api/contacts/{contact_id}/export", token=sue))[0] == 200
    assert (await http_json("DELETE", f"{app.url}/api/contacts/{contact_id}", token=sue))[0] == 200
    await http_json("POST", f"{app.url}/api/agent/logout", token=gus)

    log = await audit(app, sue, actor="sue", limit="50")
    actions = {e["action"] for e in log}
    assert {"account.add", "account.update", "contact.update", "entitlement.add", "entitlement.remove",
            "contact.merge", "privacy.export", "privacy.delete", "auth.sign_in", "case.cancel"} <= actions
    update = next(e for e in log if e["action"] == "contact.update")
    assert update["details"] == {"fields": ["account_id", "preferred"], "preferred": True, "account_id": account_id}
    assert {e["action"] for e in await audit(app, sue, actor="gus", action="auth.")} == {
        "auth.sign_in", "auth.sign_out"}

    # pages, newest first, and filters
    first_page = await audit(app, sue, limit="2")
    status, body = await http_json("GET", f"{app.url}/api/audit?limit=2&before={first_page[-1]['id']}", token=sue)
    assert status == 200 and [e["id"] for e in body["entries"]] == [first_page[-1]["id"] - 1, first_page[-1]["id"] - 2]
    assert body["next_before"] == body["entries"][-1]["id"]
    assert all(e["action"].startswith("case.") for e in await audit(app, sue, action="case."))
    for bad in ("limit=0", "limit=501", "from=2026-13-01", "from=2026-12-08&to=2026-12-01", "actor=a&actor=b",
                "colour=red"):
        status, body = await http_json("GET", f"{app.url}/api/audit?{bad}", token=sue)
        assert (status, body["error"]["code"]) == (400, "invalid_payload"), bad

    # the CSV: every entry, oldest first, never a customer's words or a note's
    status, kind, text = download(f"{app.url}/api/audit.csv?action=case.", sue)
    assert status == 200 and kind.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["action"] for r in rows} >= {"case.accept", "case.note", "case.resolve", "case.cancel"}
    assert [int(r["id"]) for r in rows] == sorted(int(r["id"]) for r in rows)
    status, _, everything = download(f"{app.url}/api/audit.csv", sue)
    assert status == 200 and NOTE not in everything and QUESTION not in everything
    assert '""name"": ""=Acme""' in everything  # in a JSON cell, which starts with "{": no formula

    # supervisors only
    for path in ("/api/audit", "/api/audit.csv"):
        await refused(app, "GET", path, anna)
        assert (await http_json("GET", app.url + path))[0] == 401


async def test_the_audit_log_page_in_the_browser(browser: Browser, app: AppServer) -> None:
    expect.set_options(timeout=WAIT_MS)
    sue = await sign_in(app.url, "sue")
    await http_json("POST", f"{app.url}/api/accounts", {"name": XSS}, token=sue)  # a name that would be markup
    customer, case_id = await queued_customer(app.url, QUESTION)
    gus = await agent_socket(app.url, await sign_in(app.url, "gus"))
    await gus.ok("accept_case", {"conversation_id": case_id})
    for client in (customer, gus):
        await client.close()
    errors: list[str] = []
    page = await open_page(browser, f"{app.url}/panel/audit", errors)
    try:
        await sign_in_staff(page, "gus")  # no supervisor role: told so, and no entries are shown
        await expect(page.get_by_test_id("denied-view")).to_be_visible()
        await expect(page.get_by_test_id("audit-view")).to_be_hidden()
        await page.get_by_test_id("signout").click()

        await sign_in_staff(page, "sue")
        rows = page.get_by_test_id("audit-entry")
        await expect(rows.first).to_be_visible()
        newest = rows.first
        await expect(newest).to_have_attribute("data-action", "auth.sign_in")
        await expect(newest).to_contain_text("sue")
        account = page.locator('[data-action="account.add"]').first
        await expect(account).to_contain_text("<script>window.__pwned=2</script><b>bold</b>")  # as text
        assert await page.evaluate("window.__pwned") is None

        await page.get_by_test_id("filter-action").select_option("case.")
        await page.get_by_test_id("filter-actor").fill("gus")
        await page.get_by_test_id("filter-apply").click()
        await expect(page.get_by_test_id("audit-status")).not_to_have_text("Loading…")
        actions = await rows.evaluate_all("rows => rows.map(r => r.getAttribute('data-action'))")
        assert actions and all(a.startswith("case.") for a in actions), actions

        async with page.expect_download() as download_info:
            await page.get_by_test_id("export-audit").click()
        download = await download_info.value
        assert re.fullmatch(r"audit-\d{4}-\d{2}-\d{2}\.csv", download.suggested_filename)
        exported = list(csv.DictReader(io.StringIO(Path(await download.path()).read_text())))
        assert len(exported) == len(actions) and {r["actor"] for r in exported} == {"gus"}
        await shot(page, "audit-log.png")

        # the panel links to it for supervisors only
        panel = await open_page(browser, f"{app.url}/panel", errors)
        await sign_in_staff(panel, "agent")  # every role
        await expect(panel.get_by_test_id("audit-link")).to_be_visible()
    except BaseException:
        await shot(page, "failure-audit.png")
        raise
    assert errors == [], "uncaught errors on the page"
