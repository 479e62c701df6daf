"""Documentation checked against the code: every setting is documented, with its default."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from handoff.limits.table import LimitTable
from handoff.settings import STRUCTURED, Settings

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented_with_its_default() -> None:
    table = (ROOT / "docs" / "settings.md").read_text()
    documented = dict(re.findall(r"^\| `([a-z_]+)` \| ([^|]+) \|", table, re.M))
    for field in dataclasses.fields(Settings):
        assert field.name in documented, f"docs/settings.md does not document {field.name}"
        if field.name == "limits":  # a table of its own, entry by entry below
            continue
        if field.name in STRUCTURED:  # tables and lists: the default names each entry, or says none
            names = [getattr(item, "name", getattr(item, "username", item)) for item in field.default]
            shown = documented[field.name]
            assert re.findall(r"`([^`]+)`", shown) == names and (names or shown.strip() == "none"), (
                field.name, shown, names)
        elif field.default not in (None, dataclasses.MISSING):
            shown = documented[field.name].strip().strip("`")
            assert shown == str(field.default).removesuffix(".0"), (field.name, shown, field.default)


def test_every_limit_is_documented_with_its_default() -> None:
    table = (ROOT / "docs" / "settings.md").read_text()
    documented = dict(re.findall(r"^\| `limits\.([a-z_]+)` \| `([^`]*)` \|", table, re.M))
    assert documented == dataclasses.asdict(LimitTable())


def test_readme_gives_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
