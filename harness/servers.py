"""The product's servers for the tests and the benchmarks, on loopback: the app as a process of its own
(``casedesk serve --port 0``, `start_app`) or in this process (`serve_app`: the same `create_app` and start-up,
served by an event loop in a thread of its own), Rasa (`start_rasa`), and what sits between Rasa and the apps
in a test session (`ActionRelay`, `Proxy`)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import aiohttp
from aiohttp import web

from bot import rasa_runtime
from bot.rasa_fleet import RasaFleet
from handoff import cli
from handoff.limits.table import NAMES as LIMIT_NAMES
from handoff.settings import LIMITS_ENV, Settings, load_settings
from handoff.staff.accounts import AGENT
from handoff.web.keys import STAFF

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"app listening on (http://127\.0\.0\.1:\d+)")
PASSWORD = "correct horse battery"  # the first agent's, and the default of `add_agent`
TEST_HASH_COST = 14  # setting password_hash_cost of the apps the tests start
# The apps of the tests and benchmarks serve many clients from 127.0.0.1: their limits are generous and sign-ins
# are not delayed, unless a test sets its own (`extra_env`: CASEDESK_LIMITS_<NAME>, CASEDESK_SIGN_IN_DELAY_SECONDS).
GENEROUS_LIMITS = {**{LIMITS_ENV + name.upper(): "100000/minute" for name in LIMIT_NAMES},
                   "CASEDESK_SIGN_IN_DELAY_SECONDS": "0"}


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

    def add_agent(self, username: str, password: str = PASSWORD, roles: Sequence[str] = ()) -> None:
        """Add an agent account (with ``roles``, else the agent role) with the operators' command, on this
        app's database: `casedesk agent add` through its `cli.main`, in a thread of this process (a process
        each cost a second or more; tests/test_agent_cli.py runs the command as a process)."""
        role_args = [arg for role in roles for arg in ("--role", role)]
        environ = {**self.env, "CASEDESK_NEW_AGENT_PASSWORD": password}
        codes: list[int] = []
        command = threading.Thread(target=lambda: codes.append(cli.main(["agent", "add", username, *role_args],
                                                                         environ)))
        command.start()  # a thread of its own: the caller may be on a running event loop
        command.join()
        assert codes == [0], f"casedesk agent add {username} failed"

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


def app_env(workdir: Path, rasa_url: str, extra_env: dict[str, str] | None = None,
            settings_file: str = "") -> tuple[dict[str, str], Path]:
    """The environment of an app with its own database and settings file (``settings_file``) under
    ``workdir``, the tests' index of the project's articles and the first agent's password; and its database."""
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
        "CASEDESK_ACTION_TOKEN": ACTION_TOKEN,
        "CASEDESK_FIRST_AGENT_USERNAME": "agent",
        "CASEDESK_FIRST_AGENT_PASSWORD": PASSWORD,
        # scrypt's lowest cost (2**14, not OWASP's 2**17): the suite signs in hundreds of times
        "CASEDESK_PASSWORD_HASH_COST": str(TEST_HASH_COST),
        **GENEROUS_LIMITS,
        **(extra_env or {}),
    })
    (workdir / "casedesk.toml").write_text(settings_file)
    return env, db_path


def start_app(workdir: Path, rasa_url: str, extra_env: dict[str, str] | None = None,
              settings_file: str = "") -> AppProcess:
    """Start the app as a process of its own (``casedesk serve``) on an OS-chosen port, with its own database
    under ``workdir`` and ``settings_file`` as the text of its settings file (`app_env`)."""
    env, db_path = app_env(workdir, rasa_url, extra_env, settings_file)
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
ACTION_TOKEN = "tests-action-token"  # what Rasa sends to the actions, and the apps ask for (CASEDESK_ACTION_TOKEN)


def start_rasa(app_url: str, port: int, log_path: Path) -> RasaProcess:
    model, _ = rasa_runtime.ensure_model(log_path=log_path.with_name("rasa-train.log"))
    process = rasa_runtime.start_rasa(model, port, f"{app_url}/webhook", log_path, RASA_TOKEN,
                                      action_token=ACTION_TOKEN)
    url = f"http://127.0.0.1:{port}"
    try:
        rasa_runtime.wait_until_ready(process, url, log_path)
    except rasa_runtime.RasaError:
        rasa_runtime.stop(process)
        raise
    return RasaProcess(url, process, log_path)


@contextlib.contextmanager
def two_nodes(workdir: Path, redis_url: str, extra_env: dict[str, str] | None = None,
              settings_file: str = "") -> Iterator[tuple[AppProcess, AppProcess]]:
    """Two app processes (nodes) on one database, sharing Redis at ``redis_url``; where Rasa should be, nothing
    listens, so every first message is handed over."""
    rasa = f"http://127.0.0.1:{free_port()}"
    env = {"CASEDESK_REDIS_URL": redis_url, "CASEDESK_RASA_TIMEOUT_SECONDS": "2", **(extra_env or {})}
    first = start_app(workdir / "a", rasa, env, settings_file)
    try:
        shared = {**env, "CASEDESK_DATABASE_URL": f"sqlite+aiosqlite:///{first.db_path}"}
        second = start_app(workdir / "b", rasa, shared, settings_file)
    except BaseException:
        first.stop()
        raise
    try:
        yield first, second
    finally:
        second.stop()
        first.stop()


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A Redis server of our own on loopback (Debian's redis-server; scripts/test installs it), nothing saved,
    its files under ``workdir``: its ``redis://`` URL, once it answers PING."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is missing: scripts/test installs it (apt-get install redis-server)"
    port = free_port()
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                               "no", "--dir", str(workdir)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            assert server.poll() is None, "redis-server stopped"
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


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


class LoopThread:
    """An asyncio event loop running in a thread of its own, as a server beside the tests' own loop: what it
    serves keeps answering while a test blocks or waits on its loop."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, make: Callable[[], Awaitable[T]], timeout: float = 120) -> T:
        """Run the coroutine ``make()`` on this loop; its result, waited for from any other thread."""
        async def call() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout)

    def close(self) -> None:
        """Stop the loop as `asyncio.run` does: what still runs on it (sockets' pings, a cancelled request's
        query) is cancelled and waited for first, so no thread answers a closed loop afterwards."""
        async def finish() -> None:
            pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await self.loop.shutdown_asyncgens()
            await self.loop.shutdown_default_executor()

        with contextlib.suppress(Exception):
            self.run(finish, timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)
        if not self._thread.is_alive():
            self.loop.close()


@dataclasses.dataclass
class AppServer:
    """The app in this process (`serve_app`): the product's `create_app` and start-up (`handoff.cli.start_app`),
    on its own loop; what `AppProcess` offers, but no process to kill."""
    url: str
    db_path: Path
    env: dict[str, str]
    settings: Settings
    runner: web.AppRunner
    thread: LoopThread
    log: logging.Handler
    output: list[str] = dataclasses.field(default_factory=list)  # what it logged, as `casedesk serve` prints it

    @property
    def app(self) -> web.Application:
        return self.runner.app

    def run(self, make: Callable[[], Awaitable[T]], timeout: float = 120) -> T:
        """Run the coroutine ``make()`` on the app's loop (to use its store, say) and return its result."""
        return self.thread.run(make, timeout)

    def add_agent(self, username: str, password: str = PASSWORD, roles: Sequence[str] = ()) -> None:
        """Add an agent account (with ``roles``, else the agent role), as `casedesk agent add` does."""
        self.run(lambda: self.app[STAFF].add(username, password, None, roles or [AGENT]))

    def stop(self) -> None:
        if self.thread.loop.is_closed():
            return
        with contextlib.suppress(Exception):
            self.run(self.runner.cleanup, timeout=60)
        self.thread.close()
        logging.getLogger().removeHandler(self.log)


class _Lines(logging.Handler):
    """Log records as `casedesk serve` prints them (its format, tracebacks included), into a list."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.INFO)
        self.lines = lines
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.extend(line + "\n" for line in self.format(record).splitlines())


def serve_app(workdir: Path, rasa_url: str, extra_env: dict[str, str] | None = None,
              settings_file: str = "", fleet: RasaFleet | None = None) -> AppServer:
    """Start the app in this process on an OS-chosen port, with the settings `casedesk serve` would build from
    the same environment and settings file (`app_env`); stop it with `AppServer.stop`. Apps in one process
    share the embedding models (`knowledge_index.index.production_embedders`), each uses its own index.
    ``fleet``: Rasa processes the app owns, as `casedesk run` gives it (``rasa_url`` is then unused)."""
    env, db_path = app_env(workdir, rasa_url, extra_env, settings_file)
    settings = load_settings(None, env, port=0)
    output: list[str] = []
    log = _Lines(output)
    logging.getLogger().addHandler(log)
    for name in ("handoff", "knowledge_index", "bot", "connectors"):  # at INFO, as `casedesk serve` logs
        logging.getLogger(name).setLevel(logging.INFO)
    thread = LoopThread("app")
    try:
        runner, port = thread.run(lambda: cli.start_app(settings, fleet))
    except BaseException:
        thread.close()
        logging.getLogger().removeHandler(log)
        raise
    return AppServer(f"http://127.0.0.1:{port}", db_path, env, settings, runner, thread, log, output)


@contextlib.contextmanager
def served_app(workdir: Path, rasa_url: str, extra_env: dict[str, str] | None = None,
               settings_file: str = "") -> Iterator[AppServer]:
    app = serve_app(workdir, rasa_url, extra_env, settings_file)
    try:
        yield app
    finally:
        app.stop()


class ActionRelay:
    """Where a session's Rasa sends its custom actions (its action endpoint): each call is passed on, as it is,
    to the ``/webhook`` of the app that talks to Rasa now (`target`), whose own index and settings answer it.
    One Rasa then serves the session's app and the apps that tests start behind it (`serving`)."""

    ROUTE = ("POST", "/webhook")  # what it passes on (a subclass may pass on more)

    def __init__(self, target: str = "") -> None:
        self.target = target
        self._thread = LoopThread("action-relay")
        self.url, self._runner = self._thread.run(self._start)

    async def _start(self) -> tuple[str, web.AppRunner]:
        self._http = aiohttp.ClientSession()
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route(*self.ROUTE, self._pass_on)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}", runner

    async def _pass_on(self, request: web.Request) -> web.Response:
        body = await request.read()  # the query (Rasa's action token) goes on with it
        async with self._http.post(f"{self.target}/webhook", data=body, params=request.query,
                                   headers={"Content-Type": request.content_type}) as answer:
            return web.Response(body=await answer.read(), status=answer.status,
                                content_type=answer.content_type)

    @contextlib.contextmanager
    def serving(self, app_url: str) -> Iterator[None]:
        """Rasa's actions go to the app at ``app_url`` meanwhile, then back to the one before."""
        before, self.target = self.target, app_url
        try:
            yield
        finally:
            self.target = before

    def stop(self) -> None:
        async def stop() -> None:
            await self._runner.cleanup()
            await self._http.close()

        with contextlib.suppress(Exception):
            self._thread.run(stop)
        self._thread.close()


class Proxy:
    """A TCP port that passes every connection on to ``upstream`` (host, port) until `close`, from when nothing
    listens there: to an app behind it, the server it reaches has stopped (as `rasa_runtime.stop` stops Rasa)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._thread = LoopThread("proxy")
        self._pipes: set[asyncio.Task[None]] = set()
        self._server = self._thread.run(lambda: asyncio.start_server(self._connect, "127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                sink.close()

        for task in (asyncio.create_task(pipe(reader, up_writer)), asyncio.create_task(pipe(up_reader, writer))):
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    def close(self) -> None:
        """Stop listening and drop the connections open through it."""
        async def close() -> None:
            self._server.close()
            for task in list(self._pipes):
                task.cancel()
            await self._server.wait_closed()

        if not self._thread.loop.is_closed():
            self._thread.run(close)
            self._thread.close()
