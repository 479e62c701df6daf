"""A contact's data (docs/privacy.md): everything stored about them as one JSON document, its deletion,
and the retention of closed cases. The REST routes (handoff/web/routes/privacy.py), the `casedesk contact`
commands and the app's retention job use these; the queries are the store's (handoff/store/privacy.py).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from bot.tracker_stores import TrackerStore
from handoff.cases.views import iso
from handoff.errors import ApiError
from handoff.staff.audit import AuditLog
from handoff.store.privacy import Deleted, OpenCases
from handoff.store.records import Agent, aware, utcnow
from handoff.store.sql import SqlCaseStore

log = logging.getLogger(__name__)

# Retention runs once when the app starts and then hourly: it is measured in days, and a large purge
# (the first one after it is switched on) keeps the store's writer busy batch after batch, which the
# sweep's SLA and queue work (every sweep_interval_seconds) should not wait for.
RETENTION_INTERVAL_SECONDS = 3600.0
TRACKER_ROWS = "rasa_trackers"  # in a deletion's rows: the Rasa tracker events (SQL) or trackers (Redis) deleted


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(aware(value))
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


async def export_contact(store: SqlCaseStore, customer_id: str, by: Agent | None) -> dict[str, Any]:
    """Everything stored about the contact (docs/privacy.md has the shape); `not_found` for an unknown id.
    ``by``: the supervisor who asked (None: the command line), in the audit log."""
    rows = await store.contact_export(customer_id)
    if rows is None:
        raise ApiError("not_found", f"contact {customer_id} does not exist")
    await AuditLog(store).record(by, "privacy.export", f"contact:{customer_id}", cases=len(rows["cases"]))
    for case in rows["cases"]:
        for message in case.get("messages", []):
            message["data"] = json.loads(message["data"])
    return {"exported_at": iso(utcnow()), **_jsonable(rows)}


async def delete_contact(store: SqlCaseStore, customer_id: str, by: Agent | None,
                         trackers: TrackerStore | None = None) -> dict[str, Any]:
    """Delete the contact and everything of theirs in one transaction; `not_found` for an unknown id,
    `conflict` (and nothing deleted) while a case of theirs is open. ``by``: as for `export_contact`; the
    audit log keeps the contact's id and how many cases went, nothing of their data. Then their cases'
    dialogues in Rasa's ``trackers`` (rows ``rasa_trackers``: tracker events in SQL, trackers in Redis)."""
    try:
        deleted = await store.delete_contact(customer_id)
    except KeyError:
        raise ApiError("not_found", f"contact {customer_id} does not exist") from None
    except OpenCases as exc:
        numbers = ", ".join(str(n) for n in exc.numbers)
        raise ApiError("conflict", f"contact {customer_id} has open cases ({numbers}): resolve or cancel "
                                   "them first; nothing was deleted") from None
    await AuditLog(store).record(by, "privacy.delete", f"contact:{customer_id}", cases=deleted.cases)
    await _delete_trackers(trackers, deleted)
    return {"contact_id": customer_id, "cases": deleted.cases, "rows": dict(sorted(deleted.rows.items()))}


async def _delete_trackers(trackers: TrackerStore | None, deleted: Deleted) -> None:
    """The Rasa trackers of the deleted cases (their sender id is the case's id), counted in ``deleted.rows``.
    After the cases' own transaction: should Rasa's store fail, the cases are gone and the error says so; a
    new deletion of the same ids finds no case, so retention passes them on (docs/privacy.md)."""
    if trackers is not None and deleted.case_ids:
        deleted.rows[TRACKER_ROWS] = await trackers.delete(deleted.case_ids)


async def apply_retention(store: SqlCaseStore, retention_days: int, now: datetime | None = None,
                          trackers: TrackerStore | None = None) -> Deleted:
    """Delete the cases closed more than ``retention_days`` ago (0: none), the anonymous contacts they
    leave with nothing, and the cases' trackers in Rasa's ``trackers``."""
    if retention_days <= 0:
        return Deleted()
    before = (now or utcnow()) - timedelta(days=retention_days)
    deleted = await store.delete_cases_closed_before(before)
    await _delete_trackers(trackers, deleted)
    if deleted.cases or deleted.contacts:
        log.info("retention: deleted %d cases closed before %s and %d anonymous contacts left without cases",
                 deleted.cases, iso(before), deleted.contacts)
    return deleted
