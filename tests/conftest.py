from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import AppProcess, RasaProcess, free_port, start_app, start_rasa


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, RasaProcess]]:
    """The product as it runs: the app and a Rasa server with a model trained from training_data/."""
    workdir = tmp_path_factory.mktemp("stack")
    rasa_port = free_port()
    app = start_app(workdir, f"http://127.0.0.1:{rasa_port}")
    try:
        rasa = start_rasa(app.url, rasa_port, workdir / "rasa.log")
    except BaseException:
        app.stop()
        raise
    yield app, rasa
    rasa.stop()
    app.stop()


@pytest.fixture(scope="session")
def app_url(stack: tuple[AppProcess, RasaProcess]) -> str:
    return stack[0].url


@pytest.fixture(scope="session")
def db_path(stack: tuple[AppProcess, RasaProcess]) -> Path:
    return stack[0].db_path
