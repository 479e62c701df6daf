"""The Rasa processes that `casedesk run` starts beside the app, and their one owner.

`RasaFleet` starts ``count`` Rasa servers with one model, gives the app's bridge their addresses (`urls`),
and changes the model without a pause (`switch`, blue/green): new processes with the new model start on
other ports while the old ones go on answering; once every new one is ready, the bridge is switched to
them, and the old ones stop after the turns they hold are answered. Rasa's own `PUT /model` would block a
process for some 17 s instead. Dialogue state is in the tracker store (bot/tracker_stores.py), which the new
processes share, so a conversation goes on where it was.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from bot import rasa_runtime
from bot.tracker_stores import TrackerStore

log = logging.getLogger(__name__)

# Old processes stop this long after the switch: a turn they took just before it is answered first.
DRAIN_SECONDS = 2.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RasaFleet:
    """``count`` Rasa processes on loopback, the first on ``first_port`` and the next ones on the ports after it
    (0: OS-chosen ports); each writes its log into ``log_dir``. Blocking methods: the app calls them in a
    thread."""

    def __init__(self, count: int, first_port: int, token: str, action_token: str, trackers: TrackerStore,
                 log_dir: Path, root: Path = rasa_runtime.ROOT, ready_timeout: float = 180) -> None:
        if count < 1:
            raise ValueError("a fleet has at least one Rasa process")
        if count > 1 and not trackers.shared:
            raise ValueError("several Rasa processes need Redis's tracker and lock stores (redis_url)")
        self.count, self.trackers = count, trackers
        self._token, self._action_token, self._log_dir, self._root = token, action_token, log_dir, root
        self._ready_timeout = ready_timeout  # seconds a process may take to be ready
        self._ports = [first_port + i if first_port else _free_port() for i in range(count)]
        self._urls: tuple[str, ...] = tuple(self._url(port) for port in self._ports)
        self._processes: list[subprocess.Popen[bytes]] = []
        self._action_url = ""
        self._changing = threading.Lock()  # one start, switch or stop at a time
        self.model: Path | None = None

    @staticmethod
    def _url(port: int) -> str:
        return f"http://127.0.0.1:{port}"

    def urls(self) -> tuple[str, ...]:
        """The addresses of the processes that take turns now (the bridge asks at every turn)."""
        return self._urls

    def start(self, model: Path, action_url: str) -> None:
        """Start the processes with ``model``, calling the actions at ``action_url``; return when all are ready."""
        with self._changing:
            self._action_url = action_url
            self._processes = self._launch(model, self._ports)
            self.model = model

    def switch(self, model: Path) -> None:
        """Blue/green: new processes with ``model`` on new ports; once all are ready the bridge takes them
        and the old ones stop. If the new ones fail, they are stopped and the old ones keep serving."""
        with self._changing:
            if not self._processes:
                raise rasa_runtime.RasaError("Rasa is not running")
            ports = [_free_port() for _ in range(self.count)]
            started = time.monotonic()
            processes = self._launch(model, ports)
            old = self._processes
            self._processes, self._ports, self.model = processes, ports, model
            self._urls = tuple(self._url(port) for port in ports)
            log.info("Rasa switched to %s on ports %s after %.1f s", model.name, ports, time.monotonic() - started)
            time.sleep(DRAIN_SECONDS)
            self._stop(old)

    def stop(self) -> None:
        with self._changing:
            self._stop(self._processes)
            self._processes = []

    def restart(self) -> None:
        """Stop the processes and start them again on the same ports, with the same model (tests; an
        operator restarts the whole `casedesk run`)."""
        with self._changing:
            if self.model is None:
                raise rasa_runtime.RasaError("Rasa is not running")
            self._stop(self._processes)
            self._processes = self._launch(self.model, self._ports)

    def processes(self) -> Sequence[subprocess.Popen[bytes]]:
        return tuple(self._processes)

    def _launch(self, model: Path, ports: Sequence[int]) -> list[subprocess.Popen[bytes]]:
        """Start one process per port and wait until each is ready; on a failure, stop them all."""
        launched: list[subprocess.Popen[bytes]] = []
        try:
            for port in ports:
                launched.append(rasa_runtime.start_rasa(
                    model, port, self._action_url, self._log_path(port), self._token, self._root,
                    action_token=self._action_token, trackers=self.trackers))
            for port, process in zip(ports, launched, strict=True):
                rasa_runtime.wait_until_ready(process, self._url(port), self._log_path(port), self._ready_timeout)
        except BaseException:
            self._stop(launched)
            raise
        return launched

    def _log_path(self, port: int) -> Path:
        return self._log_dir / f"rasa-{port}.log"

    @staticmethod
    def _stop(processes: Sequence[subprocess.Popen[bytes]]) -> None:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            rasa_runtime.stop(process)
