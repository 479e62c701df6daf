"""Training and running Rasa (its own Python 3.10 environment) as a child process.

A model is named by the fingerprint of its inputs (config.yml, bot/domain.yml, training_data/bot and
the Rasa version), so an unchanged bot is never retrained. Rasa runs with its HTTP API on loopback,
behind a token, so that a publish can load a new model into the running server (`load_model`).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from bot.tracker_stores import TrackerStore, tracker_store_for

ROOT = Path(__file__).resolve().parent.parent
RASA_BIN = ROOT / ".venv-rasa" / "bin" / "rasa"
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
RASA_SERVER = ROOT / "bot" / "rasa_server.py"
RASA_VERSION = "3.6.21"
INPUTS = ("config.yml", "bot/domain.yml", "training_data/bot")
KEEP_MODELS = 3  # trained models kept, so that a rollback can load an earlier one


class RasaError(RuntimeError):
    pass


# The cost of a turn (docs/benchmarks.md, "A bot turn's cost"): one thread for each numeric library Rasa
# loads. A turn's matrices are tiny (the intent classifier over one message), and BLAS threads that spin
# while they wait for work burn a shared core for nothing; more turns at once come from more Rasa
# processes, not from threads inside one. No TensorFlow model runs at a turn with config.yml's pipeline;
# if one is added again, TensorFlow gets one thread per op too.
SINGLE_THREADED = {
    "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    "TF_INTRA_OP_PARALLELISM_THREADS": "1", "TF_INTER_OP_PARALLELISM_THREADS": "1",
}


def rasa_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore",
                **SINGLE_THREADED})
    return env


def model_fingerprint(root: Path = ROOT) -> str:
    digest = hashlib.sha256(RASA_VERSION.encode())
    for name in INPUTS:
        path = root / name
        files = sorted(path.rglob("*.yml")) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def model_path(root: Path = ROOT) -> Path:
    return root / "models" / f"casedesk-{model_fingerprint(root)}.tar.gz"


def ensure_model(root: Path = ROOT, log_path: Path | None = None) -> tuple[Path, bool]:
    """The trained model for the current inputs, training it first when it does not exist yet."""
    target = model_path(root)
    if target.exists():
        return target, False
    log_path = log_path or root / "var" / "rasa-train.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(RASA_BIN), "train", "--config", "config.yml", "--domain", "bot/domain.yml",
        "--data", "training_data/bot", "--out", "models", "--fixed-model-name", target.name[:-7],
    ]
    with log_path.open("wb") as log:
        result = subprocess.run(command, cwd=root, env=rasa_env(), stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0 or not target.exists():
        tail = log_path.read_text(errors="replace")[-3000:]
        raise RasaError(f"rasa train failed (exit {result.returncode}); see {log_path}:\n{tail}")
    older = sorted((m for m in (root / "models").glob("casedesk-*.tar.gz") if m != target),
                   key=lambda m: m.stat().st_mtime, reverse=True)
    for old in older[KEEP_MODELS - 1:]:
        old.unlink()
    return target, True


def start_rasa(model: Path, port: int, action_url: str, log_path: Path, token: str,
               root: Path = ROOT, *, action_token: str,
               trackers: TrackerStore | None = None) -> subprocess.Popen[bytes]:
    """Rasa serving ``model`` on loopback, with its HTTP API behind ``token`` (`load_model`); it calls the
    actions at ``action_url`` with ``action_token`` (bot/endpoints.yml: the ``token`` query parameter) and
    keeps its trackers in ``trackers`` (bot/tracker_stores.py; by default a SQLite file beside the log)."""
    if not action_token:
        raise RasaError("an action token is needed: the action endpoint refuses calls without one")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = rasa_env()
    env["CASEDESK_ACTION_URL"] = action_url
    env["CASEDESK_ACTION_TOKEN"] = action_token
    if trackers is None:
        trackers = tracker_store_for(f"sqlite+aiosqlite:///{log_path.with_suffix('.db')}")
    env.update(trackers.rasa_env())
    command = [  # Rasa's command line, with the action server's answers checked at less cost (bot/rasa_server.py)
        str(RASA_PYTHON), str(RASA_SERVER), "run", "--model", str(model), "--endpoints", trackers.endpoints,
        "--credentials", "bot/credentials.yml", "--interface", "127.0.0.1", "--port", str(port),
        "--enable-api", "--auth-token", token,
    ]
    with log_path.open("ab") as log:
        return subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_until_ready(process: subprocess.Popen[bytes], url: str, log_path: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RasaError(f"Rasa exited with {process.returncode}; see {log_path}:\n{tail}")
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise RasaError(f"Rasa was not ready after {timeout:.0f} s; see {log_path}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def loaded_model(url: str, token: str, timeout: float = 10) -> str:
    """The file name of the model the Rasa server at ``url`` runs ("" when it runs none)."""
    status = _call("GET", f"{url.rstrip('/')}/status", token, None, timeout)
    return Path(str(status.get("model_file") or "")).name


def load_model(url: str, token: str, model: Path, timeout: float = 300) -> None:
    """Make the Rasa server at ``url`` load ``model`` (a file on its machine); conversations go on
    with the old model until the new one is loaded."""
    _call("PUT", f"{url.rstrip('/')}/model", token, {"model_file": str(model.resolve())}, timeout)


def _call(method: str, url: str, token: str, body: object, timeout: float) -> dict[str, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{url}?{urllib.parse.urlencode({'token': token})}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")[:500]
        raise RasaError(f"Rasa {method} {url.split('?')[0]} answered {error.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as error:
        raise RasaError(f"Rasa at {url.split('?')[0]} is unreachable: {error}") from None
    parsed = json.loads(raw) if raw.strip() else {}
    return parsed if isinstance(parsed, dict) else {}


def parse(url: str, token: str, text: str, timeout: float = 30) -> dict[str, object]:
    """What the NLU of the Rasa server at ``url`` makes of ``text`` (its intent, entities, ranking)."""
    return _call("POST", f"{url.rstrip('/')}/model/parse", token, {"text": text}, timeout)
