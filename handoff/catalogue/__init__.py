"""The message catalogue: every text casedesk sends a customer, in each language it speaks.

One TOML file per language in this folder (``en.toml``, ``de.toml``, ``ar.toml``), each with the same
keys, grouped in tables: ``bot`` (the bot's own words, bot/actions), ``system`` (what the app tells
the customer when their case changes, handoff/cases/conversations.py) and ``channel`` (what a channel says
about the chat itself, connectors/). A text may name values in braces (``{agent}``), filled in when it
is sent. English is the fallback for a language without a file. Adding a language is adding a file
(tests/test_catalogue.py checks that it has every key); docs/widget.md, "The message catalogue".

The widget's own labels (buttons, the queue place and expected wait it shows from the case) are in
its ``I18N`` table (connectors/static/widget.js), in the same languages.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
FALLBACK = "en"


@functools.cache
def _texts() -> dict[str, dict[str, str]]:
    """Every language's texts by dotted key ("system.joined"), read once."""
    found: dict[str, dict[str, str]] = {}
    for path in sorted(FOLDER.glob("*.toml")):
        with path.open("rb") as file:
            tables = tomllib.load(file)
        found[path.stem] = {f"{table}.{key}": str(text) for table, entries in tables.items()
                            for key, text in entries.items()}
    return found


def languages() -> tuple[str, ...]:
    """The languages the catalogue has, English first."""
    return (FALLBACK, *sorted(set(_texts()) - {FALLBACK}))


def language_of(code: str | None) -> str:
    """The catalogue's language for a language code or locale ("de", "de-AT", "ar_EG"), else English."""
    short = (code or "")[:2].lower()
    return short if short in _texts() else FALLBACK


def keys(language: str) -> frozenset[str]:
    return frozenset(_texts().get(language, {}))


def text(language: str | None, key: str, **values: object) -> str:
    """The text of ``key`` ("system.joined") in ``language`` (a code or locale; English when it has no
    file), with the ``values`` it names filled in. An unknown key is a KeyError."""
    template = _texts()[language_of(language)].get(key) or _texts()[FALLBACK][key]
    return template.format(**values) if values else template


def phrases(language: str | None, table: str) -> dict[str, str]:
    """One table's texts in ``language`` by their short key ("bot" -> {"yes": "Ja", ...})."""
    prefix = f"{table}."
    return {key[len(prefix):]: text(language, key) for key in _texts()[FALLBACK] if key.startswith(prefix)}
