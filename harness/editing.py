"""For the tests (and bench/publish.py) of publishing: an app's own copy of the articles and of the tests'
index of them, a publish followed to its end, and a copy of the bot whose training data changed."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path
from typing import Any

from harness.clients import http_json
from harness.servers import ROOT
from knowledge_index.index import ensure_index, production_embedders

PUBLISH_SECONDS = 600  # a publish may train Rasa (minutes on a busy machine)


def articles_and_index(base: Path) -> dict[str, str]:
    """Copy the project's articles and the tests' index of them (built first when missing) into ``base``;
    returns the app's settings for them."""
    english, multilingual = production_embedders()
    shared = ROOT / ".cache" / "test-index"
    ensure_index(ROOT / "training_data" / "articles", shared, english, multilingual=multilingual)
    shutil.copytree(ROOT / "training_data" / "articles", base / "articles")
    shutil.copytree(shared, base / "index", ignore=shutil.ignore_patterns("history.jsonl", ".*lock"))
    return {"CASEDESK_ARTICLES_DIR": str(base / "articles"), "CASEDESK_INDEX_DIR": str(base / "index")}


async def publish(app_url: str, token: str) -> dict[str, Any]:
    """Start a publish through the API and follow it to its end; returns the job."""
    status, body = await http_json("POST", f"{app_url}/api/kb/publish", token=token)
    assert status == 202, body
    assert body["job"]["state"] == "running"
    for _ in range(PUBLISH_SECONDS * 10):
        _, body = await http_json("GET", f"{app_url}/api/kb/publish", token=token)
        if body["job"]["state"] != "running":
            return body["job"]  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise AssertionError(f"the publish did not end: {body}")


def retrained_bot(root: Path, epochs: int | None = None) -> Path:
    """A copy of the bot's Rasa files in ``root`` with one more NLU example: its model must be trained.
    ``epochs``: the classifier's and the dialogue policy's training epochs instead of the project's (a test
    of the publish, not of the model, trains a small one in a fraction of the time)."""
    root.mkdir()
    for name in ("config.yml", "bot", "training_data/bot"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    nlu = root / "training_data" / "bot" / "nlu.yml"
    nlu.write_text(nlu.read_text().replace("    - hello\n", "    - hello\n    - hello there, bot\n", 1))
    if epochs is not None:
        config = root / "config.yml"
        config.write_text(re.sub(r"epochs: \d+", f"epochs: {epochs}", config.read_text()))
    return root


async def save_breaking_edit(app_url: str, token: str) -> dict[str, Any]:
    """Save an edit that makes answers worse: the shipping article takes the returns article's questions, so
    customers asking about returns would get it. Returns the shipping article as it was (to put back)."""
    shipping, returns = [(await http_json("GET", f"{app_url}/api/articles/{name}", token=token))[1]["article"]
                         for name in ("bike-shipping", "bike-returns")]
    head, _, body = shipping["text"].partition("\n---\n")
    questions = "".join(f"  - {q}\n" for q in returns["questions"])
    broken = head.split("questions:\n")[0] + "questions:\n" + questions + "---\n" + body
    status, saved = await http_json("PUT", f"{app_url}/api/articles/bike-shipping",
                                    {"text": broken, "version": shipping["version"]}, token=token)
    assert status == 200, saved
    return {**shipping, "version": saved["article"]["version"]}
