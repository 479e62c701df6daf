"""What a channel that shows plain text needs: choices by number instead of buttons, and long texts in
pieces. The channel port itself (`Channel`, `Capabilities`) is handoff/cases/channels.py."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from handoff import catalogue


def numbered(text: str, choices: Iterable[str], language: str | None = None) -> str:
    """The text with the choices listed by number, for a channel without buttons; the hint how to
    choose in ``language`` (the message's, handoff/catalogue)."""
    lines = [f"{i}. {title}" for i, title in enumerate(choices, start=1)]
    hint = catalogue.text(language, "channel.numbered_hint")
    return f"{text}\n\n" + "\n".join(lines) + f"\n{hint}" if lines else text


def chosen(reply: str, buttons: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The button a customer's ``reply`` picks by its number ("2": the second), or None."""
    offered = list(buttons)
    number = reply.strip().rstrip(".")
    if not number.isdecimal() or not 1 <= int(number) <= len(offered):
        return None
    return offered[int(number) - 1]


def pieces(text: str, limit: int | None) -> list[str]:
    """The text in pieces of at most ``limit`` characters, split at a line or a space where one is near."""
    if limit is None or len(text) <= limit:
        return [text]
    parts = []
    while len(text) > limit:
        cut = max(text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        cut = cut if cut > limit // 2 else limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*parts, text] if text else parts
