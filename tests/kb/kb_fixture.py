"""What the knowledge-index tests share: the small knowledge base of tests/fixtures/articles."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "articles"
FIXTURE_IDS = ["bike-returns", "payment-methods", "shipping-times", "table-assembly", "warranty"]
MODEL = "all-MiniLM-L6-v2"
VERSION_NAME = re.compile(r"v-\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{8}")
FIXTURE_ENTRIES = 25  # 3 questions + title + first paragraph, for each of the 5 articles


GOOD = """\
---
id: bike-returns
title: Returning a bike
tags: [returns, bikes]
questions:
  - How do I return a bike?
  - Can I send my bicycle back?
---
You can return an unused bike within 30 days.

Refunds take 5 days.
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def replace_line(text: str, line: int, new: str | None) -> str:
    """``text`` with 1-based ``line`` replaced by ``new`` (or removed when None)."""
    lines = text.split("\n")
    if new is None:
        del lines[line - 1]
    else:
        lines[line - 1] = new
    return "\n".join(lines)


def live(directory: Path) -> Path:
    """The live version folder of the index in ``directory``."""
    return directory / (directory / "CURRENT").read_text(encoding="utf-8").strip()
