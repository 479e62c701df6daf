"""Publishing the knowledge base (docs/editing.md) on the product as it runs: the app and Rasa, with a copy
of the project's articles and an index of their own. The tests run in order: each leaves the articles as
the last publish has them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import rasa_runtime
from handoff.editorial.publishing import Publisher
from handoff.settings import load_settings
from harness.clients import Recorder, http_json, sign_in
from harness.editing import articles_and_index, publish, retrained_bot, save_breaking_edit
from harness.servers import RASA_TOKEN, ROOT, ActionRelay, AppProcess, RasaProcess, start_app
from knowledge_index.index import production_embedders

UNANSWERED = "where is the truck with my table right now"  # escalated by the project's articles
ANSWERED = "how do I return a bike?"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("publishing")


@pytest.fixture(scope="module")
def publishing_stack(workdir: Path, rasa: RasaProcess,
                     actions: ActionRelay) -> Iterator[tuple[AppProcess, RasaProcess]]:
    """The app, a process of its own, behind the session's Rasa, whose actions it serves meanwhile; Rasa runs
    the project's model again afterwards (a test here makes it load another)."""
    app = start_app(workdir / "app", rasa.url, articles_and_index(workdir))
    try:
        app.add_agent("erin", roles=["editor"])
        app.add_agent("amy", roles=["agent"])
        with actions.serving(app.url):
            yield app, rasa
    finally:
        app.stop()
        model = rasa_runtime.model_path()
        if rasa_runtime.loaded_model(rasa.url, RASA_TOKEN) != model.name:
            rasa_runtime.load_model(rasa.url, RASA_TOKEN, model)


@pytest.fixture(scope="module")
def app(publishing_stack: tuple[AppProcess, RasaProcess]) -> AppProcess:
    return publishing_stack[0]


@pytest.fixture
async def editor(app: AppProcess) -> str:
    return await sign_in(app.url, "erin")


def cli(app: AppProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """``casedesk`` with the app's settings (its articles, index and Rasa)."""
    return subprocess.run([sys.executable, "-m", "handoff", *args], cwd=ROOT, env=app.env, capture_output=True,
                          text=True, timeout=600)


async def live_version(app: AppProcess) -> str:
    _, health = await http_json("GET", f"{app.url}/healthz")
    return str(health["index"]["version"])


async def bot_answer(app: AppProcess, question: str) -> dict[str, Any]:
    """The bot's reply to a new customer's ``question``: ("answer", article id), ("clarify", ...) or handoff."""
    customer = Recorder(app.url, "/chat")
    await customer.connect()
    try:
        await customer.ok("start_conversation", {"channel": "web", "locale": "en"})
        await customer.ok("send_message", {"text": question})
        reply = await customer.wait_for("message_created", lambda m: m["sender"] == "bot")
        return reply["data"]  # type: ignore[no-any-return]
    finally:
        await customer.close()


def article_of(reply: dict[str, Any]) -> str | None:
    return reply["article"]["id"] if reply.get("kind") == "answer" else None


async def test_the_first_publish_from_the_command_line_records_a_version_to_come_back_to(app: AppProcess) -> None:
    done = cli(app, "publish", "--by", "erin")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:5]] == [["check", "done"], ["index", "done"], ["rasa", "done"],
                                                        ["gate", "done"], ["publish", "done"]]
    assert "0 added, 0 removed, 0 changed; embedded 0 new texts" in lines[1]  # nothing changed: nothing embedded
    assert "unchanged: casedesk-" in lines[2]
    assert lines[-1].startswith("published in ")
    history = cli(app, "publishes")
    assert history.returncode == 0 and " publish " in history.stdout and "(live)" in history.stdout
    nothing = cli(app, "rollback")
    assert (nothing.returncode, nothing.stdout) == (2, "error: there is no earlier publish to roll back to\n")


async def test_only_editors_may_publish_see_the_history_or_roll_back(app: AppProcess) -> None:
    agent = await sign_in(app.url, "amy")
    for method, path in (("POST", "publish"), ("GET", "publish"), ("GET", "publishes"), ("POST", "rollback")):
        status, body = await http_json(method, f"{app.url}/api/kb/{path}", token=agent)
        assert (status, body["error"]["code"]) == (403, "forbidden"), (path, body)
        status, body = await http_json(method, f"{app.url}/api/kb/{path}")
        assert (status, body["error"]["code"]) == (401, "unauthorized"), (path, body)
    editor = await sign_in(app.url, "erin")
    status, body = await http_json("POST", f"{app.url}/api/kb/publish", {"force": True}, token=editor)
    assert (status, body["error"]["code"]) == (400, "invalid_payload")


async def test_an_invalid_article_file_stops_the_publish_with_its_file_and_line(
        app: AppProcess, editor: str, workdir: Path) -> None:
    before = await live_version(app)
    broken = workdir / "articles" / "bikes" / "bike-bells.md"
    broken.write_text("---\nid: bike-bells\ntitel: Bells\n---\nText.\n")  # as an editor might, in git
    try:
        job = await publish(app.url, editor)
    finally:
        broken.unlink()
    assert job["state"] == "failed"
    check = job["steps"][0]
    assert check["name"] == "check" and check["state"] == "failed"
    assert f"{broken}:3:" in check["detail"] and "titel" in check["detail"]
    assert [step["state"] for step in job["steps"][1:]] == ["waiting"] * 4
    assert await live_version(app) == before
    # the publish is in the audit log with its outcome (supervisors read it; the first account is one)
    _, log = await http_json("GET", f"{app.url}/api/audit?action=kb.publish&actor=erin",
                             token=await sign_in(app.url))
    assert log["entries"][0]["details"] == {"job": job["id"], "state": "failed"}


async def test_a_fix_goes_live_without_a_restart_while_customers_keep_getting_answers(
        app: AppProcess, editor: str) -> None:
    assert article_of(await bot_answer(app, UNANSWERED)) is None  # handed over today
    pid, before = app.process.pid, await live_version(app)
    _, tracking = await http_json("GET", f"{app.url}/api/articles/furniture-delivery-tracking", token=editor)
    status, body = await http_json("POST", f"{app.url}/api/articles/furniture-delivery-tracking/questions",
                                   {"question": UNANSWERED, "version": tracking["article"]["version"]}, token=editor)
    assert status == 201, body
    assert article_of(await bot_answer(app, UNANSWERED)) is None  # saved, not published: not live yet

    asked: list[str | None] = []
    stop = asyncio.Event()

    async def keep_asking() -> None:
        """A customer asking again and again in one conversation, each question answered before the next."""
        customer = Recorder(app.url, "/chat")
        await customer.connect()
        await customer.ok("start_conversation", {"channel": "web", "locale": "en"})
        while not stop.is_set():
            replies = len([m for m in customer.messages() if m["sender"] == "bot"])
            await customer.ok("send_message", {"text": ANSWERED})
            await customer.wait_for("message_created", lambda m, n=replies: m["sender"] == "bot" and len(
                [x for x in customer.messages() if x["sender"] == "bot"]) > n)
            asked.append(article_of([m for m in customer.messages() if m["sender"] == "bot"][-1]["data"]))
        await customer.close()

    askers = [asyncio.create_task(keep_asking()) for _ in range(3)]
    job = await publish(app.url, editor)
    await asyncio.sleep(1)
    stop.set()
    await asyncio.gather(*askers)

    assert job["state"] == "published", job
    assert job["version"] != before and await live_version(app) == job["version"]
    assert "0 added, 0 removed, 1 changed; embedded 1 new texts" in job["steps"][1]["detail"]
    improved = {(c["question"], c["source"]) for c in job["report"]["changes"] if c["verdict"] == "improved"}
    assert {(UNANSWERED, "examples"), (UNANSWERED, "development")} <= improved  # it is in the development set
    assert job["report"]["candidate"]["examples"] >= job["report"]["published"]["examples"]
    assert article_of(await bot_answer(app, UNANSWERED)) == "furniture-delivery-tracking"
    assert app.process.pid == pid and app.process.poll() is None  # no restart
    assert len(asked) >= 6 and set(asked) == {"bike-returns"}  # every question answered, before and after
    _, history = await http_json("GET", f"{app.url}/api/kb/publishes", token=editor)
    newest = history["publishes"][0]
    assert (newest["version"], newest["live"], newest["by"]) == (job["version"], True, "erin")
    assert newest["changes"]["changed"] == ["furniture-delivery-tracking"] and newest["embedded"] == [1, 1]


async def test_an_edit_that_breaks_answers_is_refused_with_the_regressions_listed(
        app: AppProcess, editor: str) -> None:
    before = await live_version(app)
    shipping = await save_breaking_edit(app.url, editor)
    job = await publish(app.url, editor)
    assert job["state"] == "refused", job
    gate = job["steps"][3]
    assert gate["state"] == "failed" and gate["detail"].startswith("refused: examples:")
    assert job["steps"][4]["state"] == "waiting"
    report = job["report"]
    assert not report["passed"] and report["refused_because"]
    regressed = [c for c in report["changes"] if c["verdict"] == "regressed"]
    assert regressed and report["changes"][0]["verdict"] == "regressed"  # regressions first
    assert any(c["expected"] == "bike-returns" and c["before"] == "answer bike-returns" for c in regressed)
    _, history = await http_json("GET", f"{app.url}/api/kb/publishes", token=editor)
    assert history["publishes"][0]["version"] == await live_version(app)  # nothing new was published
    assert article_of(await bot_answer(app, ANSWERED)) == "bike-returns"
    status, _ = await http_json("PUT", f"{app.url}/api/articles/bike-shipping",
                                {"text": shipping["text"], "version": shipping["version"]}, token=editor)
    assert status == 200
    assert before == await live_version(app)


async def test_rollback_brings_back_the_earlier_answers_and_files(app: AppProcess, editor: str, workdir: Path) -> None:
    _, history = await http_json("GET", f"{app.url}/api/kb/publishes", token=editor)
    live, earlier = history["publishes"][0], history["publishes"][1]
    assert live["live"] and earlier["action"] == "publish"
    status, body = await http_json("POST", f"{app.url}/api/kb/rollback", token=editor)
    assert status == 200, body
    rolled = body["rollback"]
    assert (rolled["version"], rolled["from_version"]) == (earlier["version"], live["version"])
    assert rolled["files_restored"] == ["furniture/furniture-delivery-tracking.md"] and rolled["files_kept"] == []
    assert await live_version(app) == earlier["version"]
    assert article_of(await bot_answer(app, UNANSWERED)) is None
    name = Path("furniture") / "furniture-delivery-tracking.md"
    tracking = (workdir / "articles" / name).read_text()
    assert UNANSWERED not in tracking and tracking == (ROOT / "training_data" / "articles" / name).read_text()
    _, history = await http_json("GET", f"{app.url}/api/kb/publishes", token=editor)
    assert history["publishes"][0]["action"] == "rollback" and history["publishes"][0]["live"]
    # The first publish is live again: there is no publish before it to go back to.
    status, body = await http_json("POST", f"{app.url}/api/kb/rollback", token=editor)
    assert (status, body["error"]["code"]) == (409, "conflict")
    assert os.path.isdir(workdir / "index" / earlier["version"])
    # the rollback is in the audit log; the refused one is not
    _, log = await http_json("GET", f"{app.url}/api/audit?action=kb.rollback", token=await sign_in(app.url))
    assert [(e["actor"], e["target"], e["details"]) for e in log["entries"]] == [
        ("erin", f"kb:{earlier['version']}", {"from_version": live["version"]})]


@pytest.mark.slow
@pytest.mark.timeout(600)  # training a Rasa model takes about four minutes on two cores, more when they are busy
async def test_changed_rasa_training_data_retrains_once_and_rasa_loads_the_model_while_customers_ask(
        publishing_stack: tuple[AppProcess, RasaProcess], tmp_path: Path) -> None:
    """A publish of a bot whose training data changed: a copy of the project's bot files with one more
    NLU example, published by the app's own Publisher class to the app's index and the running Rasa."""
    app, rasa = publishing_stack
    assert rasa_runtime.loaded_model(rasa.url, RASA_TOKEN) == rasa_runtime.model_path().name
    root = retrained_bot(tmp_path / "bot", epochs=5)
    settings = load_settings(None, app.env)
    publisher = Publisher(settings, *production_embedders(settings.model_cache_dir), root=root)
    answers: list[str | None] = []
    stop = asyncio.Event()

    async def keep_asking() -> None:
        while not stop.is_set():
            answers.append(article_of(await bot_answer(app, ANSWERED)))

    asker = asyncio.create_task(keep_asking())
    try:
        job = await asyncio.to_thread(publisher.run, publisher.new_job("erin"))
        await asyncio.sleep(1)
    finally:
        stop.set()
        await asker
    retrained = rasa_runtime.model_path(root)
    assert job.state == "published", job
    assert job.step("rasa").detail == f"trained: {retrained.name}"
    assert job.step("publish").detail.endswith(f"; Rasa loaded {retrained.name}")
    assert rasa_runtime.loaded_model(rasa.url, RASA_TOKEN) == retrained.name
    # Answered before, during and after: while Rasa loads the model (its PUT /model answers nothing until
    # it is loaded) the app waits for its answers rather than handing the customers over.
    assert len(answers) >= 3 and set(answers) == {"bike-returns"}
    again = await asyncio.to_thread(publisher.run, publisher.new_job("erin"))
    assert again.state == "published" and again.step("rasa").detail == f"unchanged: {retrained.name}"
    assert "Rasa loaded" not in again.step("publish").detail
    with pytest.raises(rasa_runtime.RasaError, match=r"401|403"):
        rasa_runtime.loaded_model(rasa.url, "not-the-token")
