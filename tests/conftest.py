from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.async_api import Browser

from harness import postgres
from harness.servers import ActionRelay, AppProcess, RasaProcess, free_port, redis_server, start_app, start_rasa
from tests.browser import chromium


@pytest.fixture(scope="session")
def host_origin() -> str:
    """The origin of a host site on another port that the session's app lets embed the widget
    (widget_origins); tests/host_site.py serves its pages there."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="session")
def actions() -> Iterator[ActionRelay]:
    """Rasa's action endpoint for the session: it passes each action call on to the app that talks to Rasa now,
    the session's app unless a test runs its own app behind the session's Rasa (`ActionRelay.serving`)."""
    relay = ActionRelay()
    yield relay
    relay.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, host_origin: str,
          actions: ActionRelay) -> Iterator[tuple[AppProcess, RasaProcess]]:
    """The product as it runs, shared by the tests of a session: the app and Rasa (harness.servers), each a
    process of its own; the only Rasa of the session."""
    workdir = tmp_path_factory.mktemp("stack")
    rasa_port = free_port()
    app = start_app(workdir, f"http://127.0.0.1:{rasa_port}", settings_file=f'widget_origins = ["{host_origin}"]\n')
    actions.target = app.url
    try:
        rasa = start_rasa(actions.url, rasa_port, workdir / "rasa.log")
        try:
            yield app, rasa
        finally:
            rasa.stop()
    finally:
        app.stop()


@pytest.fixture(scope="session")
def rasa(stack: tuple[AppProcess, RasaProcess]) -> RasaProcess:
    return stack[1]


@pytest.fixture(scope="session")
def app_url(stack: tuple[AppProcess, RasaProcess]) -> str:
    return stack[0].url


@pytest.fixture(scope="session")
def db_path(stack: tuple[AppProcess, RasaProcess]) -> Path:
    return stack[0].db_path


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless (tests/browser.py)."""
    async with chromium() as launched:
        yield launched


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[sa.URL]:
    """A PostgreSQL server for the session (harness.postgres): CASEDESK_TEST_POSTGRES_URL, else a throwaway
    cluster of Debian's PostgreSQL on loopback. Without one the tests that need it fail; they never skip."""
    try:
        given = postgres.given_server(os.environ)
        if given is not None:
            yield given
            return
        bin_dir = postgres.binaries()
        with postgres.cluster(bin_dir) as url:
            yield url
    except postgres.NoPostgres as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def postgres_url(postgres_server: sa.URL) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test: its postgresql+asyncpg:// URL."""
    with postgres.database(postgres_server) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One store test suite, run against both stores: a test that takes this fixture (or `store` in
    tests/test_store.py) runs twice, on a new SQLite file and on a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'cases.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A Redis server of our own on loopback for one test (harness.servers.redis_server)."""
    with redis_server(tmp_path) as url:
        yield url


@pytest.fixture(scope="module")
def module_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server of our own for a module whose tests share their nodes (tests/test_nodes.py)."""
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url
