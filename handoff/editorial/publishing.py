"""Retrain and publish in one action, with a quality gate, a history and rollback (docs/editing.md).

A publish, step by step (each step's state and detail are visible while it runs):

1. ``check``: read and validate every article file (an invalid one stops the publish with file:line);
2. ``index``: build the new index in memory, embedding only texts the published index does not
   already hold (an unchanged article costs nothing);
3. ``rasa``: train a Rasa model when its training data changed (`bot.rasa_runtime`), else keep it;
4. ``gate``: answer the regression questions with the new index and the published one
   (`knowledge_index.quality_gate`); a metric that drops by more than ``publish_tolerance`` refuses
   the publish, listing the questions that changed answer;
5. ``publish``: make Rasa load the new model through its HTTP API (when there is one), then write
   the index as the new live version (one atomic pointer change: every app node swaps to it, this
   one at once) and append the publish to the history.

The published version folder keeps the article files it was built from, so a rollback can put the
files back as they were; `rollback` makes the previous publish live again. One publish runs at a
time among all processes sharing the index directory (a lock file beside it).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from bot import rasa_runtime
from bot.rasa_fleet import RasaFleet
from handoff.metrics import series
from handoff.settings import Settings
from knowledge_index import quality_gate
from knowledge_index.article_files import ArticleFiles
from knowledge_index.decision import MULTILINGUAL_THRESHOLDS_FILE, load_calibration
from knowledge_index.embedder import Embedder
from knowledge_index.index import KnowledgeIndex
from knowledge_index.storage import (
    HISTORY,
    PUBLISH_LOCK,
    RASA_LOADING,
    IndexMismatch,
    current_version,
    set_current,
    versions,
)

log = logging.getLogger(__name__)

SOURCES = "sources.json"  # in a version folder: the article files it was built from
# Rasa answers nothing while it loads a model (its PUT /model blocks its event loop: some 17 s for the
# project's bot, docs/benchmarks.md); meanwhile RASA_LOADING in the index directory holds the time the
# load must end by, and every node's bridge waits for Rasa's answers instead of handing customers over.
RASA_LOAD_SECONDS = 300
RASA_LOAD_GRACE = 10
STEPS = ("check", "index", "rasa", "gate", "publish")
StepState = Literal["waiting", "running", "done", "failed"]
JobState = Literal["running", "published", "refused", "failed"]


class Busy(Exception):
    """Another publish or rollback is running."""


class NothingToRollBack(Exception):
    """There is no earlier publish to go back to."""


@dataclass
class Step:
    name: str
    state: StepState = "waiting"
    detail: str = ""
    seconds: float = 0.0  # how long it ran
    _started: float = field(default=0.0, repr=False)

    def end(self, state: StepState, detail: str) -> None:
        self.state, self.detail = state, detail
        self.seconds = round(time.monotonic() - self._started, 2) if self._started else 0.0


@dataclass
class Job:
    """One publish, as the editor sees it while it runs and after."""

    id: str
    by: str
    started_at: str
    state: JobState = "running"
    steps: list[Step] = field(default_factory=lambda: [Step(name) for name in STEPS])
    progress: dict[str, int] = field(default_factory=lambda: {"done": 0, "total": 0})  # texts embedded
    report: dict[str, Any] | None = None  # the quality gate's (quality_gate.GateReport)
    version: str = ""  # the published index version
    error: str = ""
    seconds: float = 0.0

    def step(self, name: str) -> Step:
        return next(step for step in self.steps if step.name == name)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for step in data["steps"]:
            del step["_started"]
        return data


class Publisher:
    """Publishes the article files of ``settings.articles_dir`` to ``settings.index_dir`` and the Rasa
    servers (``fleet``'s when the app owns them, else ``settings.rasa_servers``); ``on_published`` runs after
    every change of the live version (the app swaps its index at once).
    Blocking calls: the app runs them in a thread."""

    def __init__(self, settings: Settings, english: Embedder, multilingual: Embedder,
                 on_published: Callable[[], object] = lambda: None, root: Path = rasa_runtime.ROOT,
                 fleet: RasaFleet | None = None) -> None:
        self._settings, self._english, self._multilingual = settings, english, multilingual
        self._fleet = fleet  # the Rasa processes this app owns (`casedesk run`): a new model by blue/green
        self._on_published, self._root = on_published, root
        self._files = ArticleFiles(settings.articles_dir)
        self._index_dir = Path(settings.index_dir)
        files = settings.thresholds_file, settings.multilingual_thresholds_file
        self._thresholds = load_calibration(files[0]) if files[0] else load_calibration()
        self._multilingual_thresholds = load_calibration(files[1] or MULTILINGUAL_THRESHOLDS_FILE)
        self._target = settings.answer_precision_target
        self._running = threading.Lock()
        self.last: Job | None = None

    # --- publishing ------------------------------------------------------------------------------

    def new_job(self, by: str) -> Job:
        """A job for `run`; raises `Busy` while one runs in this process."""
        if not self._running.acquire(blocking=False):
            raise Busy("a publish is running")
        self.last = Job(secrets.token_hex(8), by, _now())
        return self.last

    def run(self, job: Job, full: bool = False) -> Job:
        """Carry out ``job`` (from `new_job`) to its end: published, refused by the gate, or failed; with
        ``full``, every text is embedded again (nothing is taken from the published index)."""
        started = time.monotonic()
        try:
            with self._exclusive():
                self._publish(job, full)
        except Busy as exc:
            self._fail(job, "check", str(exc))
        except Exception as exc:  # the job reports it; the live version stays as it was
            log.exception("publish %s failed", job.id)
            failed = next((s.name for s in job.steps if s.state == "running"), "publish")
            self._fail(job, failed, str(exc))
        finally:
            job.seconds = round(time.monotonic() - started, 2)
            self._running.release()
            series.PUBLISHES.labels(outcome=job.state).inc()  # published, refused or failed (handoff/metrics)
        return job

    def _publish(self, job: Job, full: bool) -> None:
        step = self._begin(job, "check")
        articles, sources = self._files.snapshot()  # ArticleError: the job fails with file:line
        published = self._published()
        regression = quality_gate.questions(articles, published.articles if published else (),
                                            self._development_set(), self._settings.regression_questions_file)
        step.end("done", f"{len(articles)} articles, {len(regression)} regression questions")

        step = self._begin(job, "index")

        def progress(done: int, total: int) -> None:
            job.progress = {"done": done, "total": total}

        candidate = KnowledgeIndex.compose(articles, self._english, self._thresholds, multilingual=self._multilingual,
                                           multilingual_thresholds=self._multilingual_thresholds,
                                           progress=progress, reuse=None if full else published,
                                           precision_target=self._target)
        changes = _changes(published, candidate)
        embedded = f"embedded {candidate.embedded[0]} {'' if full else 'new '}texts of {len(candidate.entries)}"
        step.end("done", f"{_count(changes)}; {embedded}" if published else f"first index: {embedded}")

        step = self._begin(job, "rasa")
        model, trained = rasa_runtime.ensure_model(self._root)
        step.end("done", f"{'trained' if trained else 'unchanged'}: {model.name}")

        step = self._begin(job, "gate")
        report = quality_gate.check(candidate, published, regression, self._settings.publish_tolerance)
        job.report = report.to_json()
        regressed = sum(change.verdict == "regressed" for change in report.changes)
        summary = ", ".join(f"{metric} {share:.1%}" for metric, share in report.candidate.items())
        if not report.passed:
            step.end("failed", f"refused: {'; '.join(report.refused_because)}")
            job.state = "refused"
            return
        step.end("done", f"passed: {summary}; {regressed} regressed within the tolerance")

        step = self._begin(job, "publish")
        loaded = self._load_rasa_model(model, self._live_entry().get("rasa_model"))
        extra = {SOURCES: json.dumps(sources, ensure_ascii=False, indent=1).encode("utf-8")}
        written = candidate.write(self._index_dir, extra)
        job.version = written.version
        self._record({"action": "publish", "version": written.version, "at": _now(), "by": job.by,
                      "articles": len(articles), "changes": changes, "embedded": list(candidate.embedded),
                      "rasa_model": model.name, "rasa_trained": trained, "metrics": report.candidate,
                      "questions": report.questions})
        self._on_published()
        step.end("done", f"live: {written.version}" + (f"; Rasa loaded {model.name}" if loaded else ""))
        job.state = "published"

    # --- history and rollback --------------------------------------------------------------------

    def history(self) -> list[dict[str, Any]]:
        """Every publish and rollback, newest first, each marked ``live`` when it made the live version."""
        path = self._index_dir / HISTORY
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        entries = [json.loads(line) for line in lines if line.strip()]
        try:
            live = current_version(self._index_dir)
        except IndexMismatch:
            live = ""
        kept = set(versions(self._index_dir))
        latest = next((e for e in reversed(entries) if e["version"] == live), None)
        return [{**entry, "live": entry is latest, "kept": entry["version"] in kept} for entry in reversed(entries)]

    def rollback(self, by: str) -> dict[str, Any]:
        """Make the publish before the live one live again: its index, its Rasa model, and its article
        files where they were not edited since (those are kept, to publish later)."""
        if not self._running.acquire(blocking=False):
            raise Busy("a publish is running")
        try:
            with self._exclusive():
                return self._rollback(by)
        finally:
            self._running.release()

    def _rollback(self, by: str) -> dict[str, Any]:
        history = [entry for entry in self.history() if entry["action"] == "publish"]
        live = next((i for i, entry in enumerate(history) if entry["version"] == current_version(self._index_dir)),
                    None)
        earlier = history[live + 1:] if live is not None else []
        target = next((entry for entry in earlier if entry["kept"]), None)
        if live is None or target is None:
            raise NothingToRollBack("there is no earlier publish to roll back to")
        now_version = history[live]["version"]
        restored, kept = self._files.restore(self._sources(target["version"]), self._sources(now_version))
        model = self._root / "models" / target["rasa_model"]
        loaded = self._load_rasa_model(model, history[live]["rasa_model"]) if model.exists() else False
        set_current(self._index_dir, target["version"])
        entry = {"action": "rollback", "version": target["version"], "at": _now(), "by": by,
                 "from_version": now_version, "files_restored": restored, "files_kept": kept,
                 "rasa_model": target["rasa_model"], "rasa_loaded": loaded, "metrics": target["metrics"]}
        self._record(entry)
        self._on_published()
        return entry

    # --- helpers ---------------------------------------------------------------------------------

    def _published(self) -> KnowledgeIndex | None:
        try:
            return KnowledgeIndex.load(self._index_dir, self._english, self._multilingual, self._target)
        except IndexMismatch as exc:
            log.warning("publishing without a published index to compare with: %s", exc)
            return None

    def _development_set(self) -> list[quality_gate.Question]:
        path = self._settings.regression_questions_file
        return quality_gate.read_development_set(path) if path else []

    def _live_entry(self) -> dict[str, Any]:
        """The history entry that made the live version ({} when there is none)."""
        return next((entry for entry in self.history() if entry["live"]), {})

    def _load_rasa_model(self, model: Path, live: str | None) -> bool:
        """Make Rasa load ``model`` unless the live publish has it (``live``) or Rasa runs it already;
        whether it had to. An article-only publish never needs Rasa. Rasa processes of the app's own
        (``fleet``) switch to new ones without a pause (blue/green); Rasa servers elsewhere load it through
        `PUT /model`, one after the other, which blocks each for a while (the RASA_LOADING marker)."""
        if live == model.name:
            return False
        if self._fleet is not None:
            if self._fleet.model is not None and self._fleet.model.name == model.name:
                return False
            self._fleet.switch(model)
            return True
        token = self._settings.rasa_token
        if not token:
            log.warning("rasa_token is not set: Rasa keeps the model it runs")
            return False
        urls = [url for url in self._settings.rasa_servers if rasa_runtime.loaded_model(url, token) != model.name]
        if not urls:
            return False
        marker = self._index_dir / RASA_LOADING
        marker.write_text(f"{time.time() + RASA_LOAD_SECONDS:.0f}\n", encoding="utf-8")
        try:
            for url in urls:
                rasa_runtime.load_model(url, token, model, timeout=RASA_LOAD_SECONDS)
        finally:  # the messages Rasa held while loading are answered just after: a few seconds more
            marker.write_text(f"{time.time() + RASA_LOAD_GRACE:.0f}\n", encoding="utf-8")
        return True

    def _sources(self, version: str) -> dict[str, str]:
        try:
            data: dict[str, str] = json.loads((self._index_dir / version / SOURCES).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NothingToRollBack(f"version {version} does not keep its article files") from None
        return data

    def _record(self, entry: dict[str, Any]) -> None:
        with open(self._index_dir / HISTORY, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold the publish lock of the index directory, or raise `Busy`."""
        self._index_dir.mkdir(parents=True, exist_ok=True)
        with open(self._index_dir / PUBLISH_LOCK, "ab") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise Busy("another publish or rollback is running") from None
            yield

    @staticmethod
    def _begin(job: Job, name: str) -> Step:
        step = job.step(name)
        step.state, step._started = "running", time.monotonic()
        return step

    @staticmethod
    def _fail(job: Job, step: str, error: str) -> None:
        job.state, job.error = "failed", error
        job.step(step).end("failed", error)


def rasa_loading(index_dir: str | Path) -> bool:
    """Whether a publish is making Rasa load a model now (RASA_LOADING)."""
    try:
        return time.time() < float((Path(index_dir) / RASA_LOADING).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False


def _changes(published: KnowledgeIndex | None, candidate: KnowledgeIndex) -> dict[str, list[str]]:
    before = {record.id: record for record in published.articles} if published else {}
    after = {record.id: record for record in candidate.articles}
    return {"added": sorted(set(after) - set(before)), "removed": sorted(set(before) - set(after)),
            "changed": sorted(i for i in set(after) & set(before) if after[i] != before[i])}


def _count(changes: dict[str, list[str]]) -> str:
    return ", ".join(f"{len(ids)} {kind}" for kind, ids in changes.items())


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
