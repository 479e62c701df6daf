from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser

from tests.browser import chromium
from tests.servers import AppProcess, RasaProcess, app_and_rasa


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, RasaProcess]]:
    """The product as it runs, shared by the tests of a session: the app and Rasa (tests.servers)."""
    with app_and_rasa(tmp_path_factory.mktemp("stack")) as both:
        yield both


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
