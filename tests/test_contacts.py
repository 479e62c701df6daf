"""Contacts, accounts, entitlements and case cancellation through the real app's REST API and
socket.io: the signed identity token, the roles each call needs, and the errors at the boundary."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Route, expect

from handoff.cases.identity import sign
from harness.clients import Recorder, http_json, sign_in
from harness.servers import AppServer, free_port, serve_app

SECRET = secrets.token_urlsafe(40)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[AppServer]:
    # No Rasa: these tests never need the bot's answer.
    app = serve_app(tmp_path, f"http://127.0.0.1:{free_port()}", {"CASEDESK_IDENTITY_SECRET": SECRET})
    try:
        app.add_agent("plain")  # the agent role only
        yield app
    finally:
        app.stop()


async def start(url: str, **payload: str) -> tuple[Recorder, dict[str, object]]:
    customer = Recorder(url, "/chat")
    await customer.connect()
    return customer, await customer.call("start_conversation", {"channel": "web", **payload})


async def test_a_signed_identity_is_one_known_contact_across_conversations(app: AppServer) -> None:
    token = await sign_in(app.url)
    first, started = await start(app.url, identity=sign("shop-42", SECRET, name="Dana", email="dana@example.com"))
    assert started["ok"] is True, started
    second, again = await start(app.url, identity=sign("shop-42", SECRET), earlier_token="")
    case_ids = [r["conversation"]["id"] for r in (started, again)]  # type: ignore[index]
    _, case = await http_json("GET", f"{app.url}/api/cases/{case_ids[1]}", token=token)
    contact_id = case["case"]["customer_id"]
    assert case["case"]["customer_name"] == "Dana"
    assert [c["id"] for c in case["case"]["earlier_cases"]] == [case_ids[0]]

    status, body = await http_json("GET", f"{app.url}/api/contacts/{contact_id}", token=token)
    assert status == 200
    contact = body["contact"]
    assert (contact["external_id"], contact["known"], contact["email"]) == ("shop-42", True, "dana@example.com")
    assert [c["id"] for c in contact["cases"]] == case_ids[::-1]
    status, found = await http_json("GET", f"{app.url}/api/contacts?q=DANA@example", token=token)
    assert status == 200 and [c["id"] for c in found["contacts"]] == [contact_id]
    assert (await http_json("GET", f"{app.url}/api/contacts?q=", token=token))[0] == 400

    # Bad tokens start nothing.
    for identity, code in ((sign("shop-42", "another secret " * 3), "unauthorized"),
                           (sign("shop-42", SECRET, expires_in=-120), "unauthorized"),
                           ("not.a.token", "unauthorized"),
                           (sign("shop-42", SECRET, name="x" * 81), "invalid_payload")):
        client, refused = await start(app.url, identity=identity)
        assert refused["ok"] is False and refused["error"]["code"] == code, refused  # type: ignore[index]
        await client.close()
    status, body = await http_json("GET", f"{app.url}/api/contacts/{contact_id}", token=token)
    assert len(body["contact"]["cases"]) == 2
    for client in (first, second):
        await client.close()


async def test_identity_tokens_are_refused_without_a_secret(tmp_path: Path) -> None:
    app = serve_app(tmp_path, f"http://127.0.0.1:{free_port()}")
    try:
        client, refused = await start(app.url, identity=sign("shop-1", SECRET))
        assert refused["ok"] is False and refused["error"]["code"] == "invalid_payload"  # type: ignore[index]
        assert "CASEDESK_IDENTITY_SECRET" in refused["error"]["message"]  # type: ignore[index]
        await client.close()
    finally:
        app.stop()


async def test_supervisor_calls_need_the_role_and_validate_their_input(app: AppServer) -> None:
    supervisor = await sign_in(app.url)  # the first account has every role
    plain = await sign_in(app.url, "plain")
    guest, started = await start(app.url)
    case_id = started["conversation"]["id"]  # type: ignore[index]
    _, case = await http_json("GET", f"{app.url}/api/cases/{case_id}", token=plain)
    guest_id = case["case"]["customer_id"]
    known, _ = await start(app.url, identity=sign("shop-9", SECRET))

    calls = [("POST", "/api/accounts", {"name": "Acme"}), ("PATCH", "/api/accounts/acc_x", {"name": "Acme"}),
             ("POST", "/api/entitlements", {"contact_id": guest_id, "name": "Gold"}),
             ("DELETE", "/api/entitlements/ent_x", None),
             ("POST", f"/api/contacts/{guest_id}/merge", {"into": guest_id}),
             ("POST", f"/api/cases/{case_id}/cancel", {"reason": "spam"})]
    for method, path, body in calls:
        status, refused = await http_json(method, app.url + path, body, token=plain)
        assert (status, refused["error"]["code"]) == (403, "forbidden"), path
        assert "supervisor" in refused["error"]["message"]
        assert (await http_json(method, app.url + path, body))[0] == 401

    bad = [("POST", "/api/accounts", {"name": ""}, 400), ("POST", "/api/accounts", {"name": "A", "x": 1}, 400),
           ("POST", "/api/accounts", {"name": "A", "parent_id": "acc_nobody"}, 404),
           ("POST", "/api/entitlements", {"name": "Gold"}, 400),
           ("POST", "/api/entitlements", {"contact_id": guest_id, "name": "Gold", "ends_at": "tomorrow"}, 400),
           ("POST", "/api/entitlements", {"contact_id": "u_nobody", "name": "Gold"}, 404),
           ("DELETE", "/api/entitlements/ent_nobody", None, 404),
           ("PATCH", f"/api/contacts/{guest_id}", {"account_id": "acc_nobody"}, 404),
           ("PATCH", f"/api/contacts/{guest_id}", {"email": 5}, 400),
           ("POST", f"/api/contacts/{guest_id}/merge", {"into": guest_id}, 400),
           ("POST", f"/api/cases/{case_id}/cancel", {"reason": "bored"}, 400),
           ("POST", "/api/cases/c_nobody/cancel", {"reason": "spam"}, 404)]
    for method, path, body, expected in bad:
        status, refused = await http_json(method, app.url + path, body, token=supervisor)
        assert status == expected and set(refused) == {"error"}, (path, body, refused)

    status, account = await http_json("POST", f"{app.url}/api/accounts", {"name": "Acme"}, token=supervisor)
    assert status == 201
    status, entitlement = await http_json("POST", f"{app.url}/api/entitlements",
                                          {"account_id": account["account"]["id"], "name": "Gold",
                                           "starts_at": "2026-01-01", "ends_at": "2099-01-01T00:00:00+01:00"},
                                          token=supervisor)
    assert status == 201 and entitlement["entitlement"]["active"] is True
    assert entitlement["entitlement"]["ends_at"] == "2098-12-31T23:00:00Z"
    account_path = f"{app.url}/api/accounts/{account['account']['id']}"
    assert (await http_json("GET", account_path, token=plain))[0] == 403  # accounts are the supervisors'
    status, detail = await http_json("GET", account_path, token=supervisor)
    assert status == 200 and [e["name"] for e in detail["account"]["entitlements"]] == ["Gold"]

    # The supervisor merges the guest into the known contact; then cancels the guest's case.
    assert (await http_json("GET", f"{app.url}/api/contacts?q=shop-9", token=plain))[0] == 403
    _, known_case = await http_json("GET", f"{app.url}/api/contacts?q=shop-9", token=supervisor)
    known_id = known_case["contacts"][0]["id"]
    status, merged = await http_json("POST", f"{app.url}/api/contacts/{guest_id}/merge", {"into": known_id},
                                     token=supervisor)
    assert status == 200 and merged["moved_cases"] == 1 and merged["contact"]["id"] == known_id
    status, cancelled = await http_json("POST", f"{app.url}/api/cases/{case_id}/cancel", {"reason": "test"},
                                        token=supervisor)
    assert status == 200 and cancelled["case"]["status"] == "cancelled"
    assert cancelled["case"]["customer_id"] == known_id
    updated = await guest.wait_for("case_updated", lambda c: c["status"] == "cancelled")
    assert updated["resolution"] == "cancelled"
    for client in (guest, known):
        await client.close()


def serving(body: str) -> Callable[[Route], Awaitable[None]]:
    return lambda route: route.fulfill(content_type="text/html", body=body)


async def test_the_widget_passes_the_host_sites_identity_and_falls_back_when_it_is_refused(
    app: AppServer, browser: Browser
) -> None:
    token = await sign_in(app.url)
    external_ids = []
    errors: list[str] = []
    for identity in (sign("shop-77", SECRET, name="Ilse"), sign("shop-78", SECRET, expires_in=-120)):
        context = await browser.new_context()
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # A host page of the app's origin (as a shop embedding the widget), signed in as a customer.
        host_page = ('<!doctype html><html><head><meta charset="utf-8"></head><body><h1>Shop</h1>'
                     f'<script src="/static/widget/widget.js" data-locale="en" data-identity="{identity}" defer>'
                     '</script></body></html>')
        await page.route(f"{app.url}/shop", serving(host_page))
        await page.goto(f"{app.url}/shop")
        await page.get_by_test_id("cdw-launcher").click()
        await page.get_by_test_id("cdw-input").fill("I want to talk to a person")
        await page.get_by_test_id("cdw-send").click()
        await expect(page.get_by_test_id("cdw-message").first).to_be_visible()
        stored = await page.evaluate("JSON.parse(localStorage.getItem('casedesk.conversation'))")
        _, case = await http_json("GET", f"{app.url}/api/cases/{stored['id']}", token=token)
        _, contact = await http_json("GET", f"{app.url}/api/contacts/{case['case']['customer_id']}", token=token)
        external_ids.append((contact["contact"]["external_id"], contact["contact"]["display_name"]))
        await context.close()
    assert errors == []
    # signed in: the known contact; an expired identity: helped all the same, as an anonymous contact
    assert external_ids == [("shop-77", "Ilse"), (None, "Customer")]
