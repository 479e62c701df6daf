"""A newly built index is picked up by the running app without a restart, while customers keep asking."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from harness.clients import http_json, sign_in
from harness.editing import articles_and_index
from harness.servers import ROOT, free_port, serve_app

NEW_ARTICLE = """---
id: bike-gift-cards
title: Gift cards
questions:
  - Do you sell gift cards?
  - Can I buy a voucher for a friend?
---
Velora gift cards are sold in every store and online, from EUR 20 to EUR 500.
"""


async def test_published_index_is_swapped_in_while_searches_go_on(tmp_path: Path) -> None:
    # The app starts on a copy of the tests' index of the articles (no build of its own); `kb build` makes the next.
    copies = articles_and_index(tmp_path)
    articles, index_dir = Path(copies["CASEDESK_ARTICLES_DIR"]), Path(copies["CASEDESK_INDEX_DIR"])
    app = serve_app(tmp_path / "app", f"http://127.0.0.1:{free_port()}", {
        **copies, "CASEDESK_INDEX_POLL_SECONDS": "0.5",
    })
    try:
        token = await sign_in(app.url)
        search = f"{app.url}/api/kb/search?q=do+you+sell+gift+cards&k=1"
        _, before = await http_json("GET", search, token=token)
        assert before["hits"][0]["article_id"] != "bike-gift-cards"
        _, health = await http_json("GET", f"{app.url}/healthz")
        old_version, old_count = health["index"]["version"], health["index"]["articles"]

        (articles / "bikes" / "bike-gift-cards.md").write_text(NEW_ARTICLE)
        results: list[tuple[int, str]] = []

        async def keep_asking() -> None:
            while True:
                status, body = await http_json("GET", search, token=token)
                results.append((status, body["hits"][0]["article_id"] if status == 200 else str(body)))
                await asyncio.sleep(0.05)

        asker = asyncio.create_task(keep_asking())
        build = await asyncio.to_thread(subprocess.run, [
            sys.executable, "-m", "handoff", "kb", "build", "--articles", str(articles), "--out", str(index_dir),
        ], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert build.returncode == 0, build.stderr
        for _ in range(100):
            if results and results[-1][1] == "bike-gift-cards":
                break
            await asyncio.sleep(0.1)
        asker.cancel()

        assert all(status == 200 for status, _ in results), results  # nobody got an error during the swap
        answers = [article for _, article in results]
        assert answers[-1] == "bike-gift-cards"
        switched = answers.index("bike-gift-cards")
        assert set(answers[switched:]) == {"bike-gift-cards"}  # once swapped, never back
        _, found = await http_json("GET", search, token=token)
        assert found["hits"][0]["answer"].startswith("Velora gift cards are sold in every store")  # for the agent
        _, health = await http_json("GET", f"{app.url}/healthz")
        assert health["index"]["articles"] == old_count + 1 and health["index"]["version"] != old_version
    finally:
        app.stop()
