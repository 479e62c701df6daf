"""``casedesk publish``, ``casedesk publishes`` and ``casedesk rollback``: the editors' publish from a shell
(docs/editing.md). A running app swaps to what these publish within ``index_poll_seconds``."""

from __future__ import annotations

import threading
from typing import Any

from handoff.editorial.publishing import Busy, NothingToRollBack, Publisher
from handoff.settings import Settings
from knowledge_index.articles import ArticleError
from knowledge_index.index import production_embedders

EXIT_REFUSED, EXIT_FAILED = 1, 2
CHANGES_SHOWN = 30


def _publisher(settings: Settings) -> Publisher:
    return Publisher(settings, *production_embedders(settings.model_cache_dir))


def publish(settings: Settings, by: str, full: bool = False) -> int:
    """Publish, printing each step as it ends; 0 when published, 1 when the gate refused, 2 on failure."""
    publisher = _publisher(settings)
    job = publisher.new_job(by)
    worker = threading.Thread(target=publisher.run, args=(job, full))
    worker.start()
    shown: set[str] = set()
    while True:
        worker.join(timeout=0.5)
        for step in job.steps:
            if step.state in ("done", "failed") and step.name not in shown:
                shown.add(step.name)
                print(f"{step.name:<8} {step.state:<6} {step.detail}", flush=True)
        if not worker.is_alive():
            break
    if job.report:
        print_report(job.report)
    print(f"{job.state} in {job.seconds:.1f} s" + (f": {job.version}" if job.version else ""))
    return {"published": 0, "refused": EXIT_REFUSED}.get(job.state, EXIT_FAILED)


def print_report(report: dict[str, Any]) -> None:
    for metric, share in report["candidate"].items():
        before = report["published"].get(metric)
        was = f"{before:.1%} -> " if before is not None else ""
        print(f"  {metric}: {was}{share:.1%} of {report['questions'][metric]} questions")
    changes = report["changes"]
    for change in changes[:CHANGES_SHOWN]:
        print(f"  {change['verdict']:<9} {change['question']!r} (expected {change['expected']}): "
              f"{change['before']} -> {change['after']}")
    if len(changes) > CHANGES_SHOWN:
        print(f"  ... and {len(changes) - CHANGES_SHOWN} more changed questions")


def history(settings: Settings) -> int:
    for entry in _publisher(settings).history():
        live = " (live)" if entry["live"] else ""
        metrics = ", ".join(f"{metric} {share:.1%}" for metric, share in entry.get("metrics", {}).items())
        print(f"{entry['at']}  {entry['action']:<8}  {entry['version']}{live}  by {entry['by']}  {metrics}")
    return 0


def rollback(settings: Settings, by: str) -> int:
    try:
        entry = _publisher(settings).rollback(by)
    except (Busy, NothingToRollBack, ArticleError) as exc:
        print(f"error: {exc}")
        return EXIT_FAILED
    print(f"live again: {entry['version']} (was {entry['from_version']})")
    for path in entry["files_restored"]:
        print(f"  restored {path}")
    for path in entry["files_kept"]:
        print(f"  kept {path}: edited since the publish; publish it again when it is ready")
    return 0
