"""Real processes for the tests: the app (``casedesk serve --port 0``) and Rasa, on loopback."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import queue
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from bot import rasa_runtime

ROOT = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"app listening on (http://127\.0\.0\.1:\d+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclasses.dataclass
class AppProcess:
    url: str
    process: subprocess.Popen[str]
    output: list[str]
    db_path: Path
    reader: threading.Thread
    env: dict[str, str] = dataclasses.field(default_factory=dict)

    def add_agent(self, username: str, password: str = "correct horse battery", roles: Sequence[str] = ()) -> None:
        """Add an agent account (with ``roles``, else the agent role) with the operators' command, on this
        app's database."""
        role_args = [arg for role in roles for arg in ("--role", role)]
        subprocess.run([sys.executable, "-m", "handoff", "agent", "add", username, *role_args], cwd=ROOT, check=True,
                       env={**self.env, "CASEDESK_NEW_AGENT_PASSWORD": password}, capture_output=True)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.reader.join(timeout=10)
        if self.process.stdout:
            self.process.stdout.close()


def start_app(workdir: Path, rasa_url: str, extra_env: dict[str, str] | None = None,
              settings_file: str = "") -> AppProcess:
    """Start the app on an OS-chosen port with its own database and index folder under ``workdir``,
    and ``settings_file`` as the text of its settings file."""
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "casedesk.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEDESK_")}
    env.update({
        "CASEDESK_SETTINGS": str(workdir / "casedesk.toml"),
        "CASEDESK_DATABASE_URL": f"sqlite+aiosqlite:///{db_path}",
        "CASEDESK_INDEX_DIR": str(ROOT / ".cache" / "test-index"),
        "CASEDESK_ARTICLES_DIR": str(ROOT / "training_data" / "articles"),
        "CASEDESK_RASA_URL": rasa_url,
        "CASEDESK_RASA_TOKEN": RASA_TOKEN,
        "CASEDESK_FIRST_AGENT_USERNAME": "agent",
        "CASEDESK_FIRST_AGENT_PASSWORD": "correct horse battery",
        **(extra_env or {}),
    })
    (workdir / "casedesk.toml").write_text(settings_file)
    process = subprocess.Popen(
        [sys.executable, "-m", "handoff", "serve", "--port", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output: list[str] = []
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    while True:
        try:
            line = lines.get(timeout=120)
        except queue.Empty:
            line = None
        if line is None:
            AppProcess("", process, output, db_path, reader, env).stop()
            raise RuntimeError("the app did not start:\n" + "".join(output))
        match = LISTENING.search(line)
        if match:
            return AppProcess(match.group(1), process, output, db_path, reader, env)


@dataclasses.dataclass
class RasaProcess:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        rasa_runtime.stop(self.process)


RASA_TOKEN = "tests-rasa-token"  # the apps the tests start get it too (CASEDESK_RASA_TOKEN)


def start_rasa(app_url: str, port: int, log_path: Path) -> RasaProcess:
    model, _ = rasa_runtime.ensure_model(log_path=log_path.with_name("rasa-train.log"))
    process = rasa_runtime.start_rasa(model, port, f"{app_url}/webhook", log_path, RASA_TOKEN)
    url = f"http://127.0.0.1:{port}"
    try:
        rasa_runtime.wait_until_ready(process, url, log_path)
    except rasa_runtime.RasaError:
        rasa_runtime.stop(process)
        raise
    return RasaProcess(url, process, log_path)


@contextlib.contextmanager
def app_and_rasa(workdir: Path, extra_env: dict[str, str] | None = None,
                 settings_file: str = "") -> Iterator[tuple[AppProcess, RasaProcess]]:
    """The product as it runs: the app (with ``settings_file`` as its settings file) and a Rasa server with a
    model trained from training_data/, each with its own files under ``workdir``; both are stopped on the way
    out (stopping Rasa twice is harmless)."""
    rasa_port = free_port()
    app = start_app(workdir, f"http://127.0.0.1:{rasa_port}", extra_env, settings_file)
    try:
        rasa = start_rasa(app.url, rasa_port, workdir / "rasa.log")
        try:
            yield app, rasa
        finally:
            rasa.stop()
    finally:
        app.stop()
