"""docs/protocol.md documents every socket event and REST route the server handles."""

from __future__ import annotations

import re
from pathlib import Path

from handoff import api, pages
from handoff.agent_namespace import AgentNamespace
from handoff.chat_namespace import ChatNamespace

DOC = (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text()


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", DOC, re.S | re.M)
    assert match, f"docs/protocol.md has no section {title!r}"
    return match.group(1)


def test_every_socket_event_is_documented_in_its_namespace() -> None:
    namespaces = (("Customer namespace `/chat`", ChatNamespace), ("Agent namespace `/agent`", AgentNamespace))
    for title, namespace in namespaces:
        events = {name[3:] for name in dir(namespace) if name.startswith("on_")} - {"connect", "disconnect"}
        assert events, namespace
        documented = set(re.findall(r"^\| `([a-z_]+)` \|", section(title), re.M))
        assert events <= documented, f"{title}: undocumented events {sorted(events - documented)}"


def test_every_rest_route_is_documented() -> None:
    rest = section("REST")
    routes = [(r.method, r.path) for table in (api.routes, pages.routes) for r in table]  # type: ignore[attr-defined]
    assert routes
    for method, path in routes:
        assert f"`{method} {path}" in rest, f"undocumented route {method} {path}"
    assert "`POST /webhook`" in rest


def test_every_error_code_is_documented() -> None:
    from handoff.errors import HTTP_STATUS

    table = section("Error shape")
    for code, status in HTTP_STATUS.items():
        assert re.search(rf"^\| `{code}` \| ({status}|-) \|", table, re.M), code
