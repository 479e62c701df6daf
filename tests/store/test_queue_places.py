"""A queued case's place, counted by the store (`Queues.place`, `SqlCaseStore.queue_position`), is its place
in the order the queue is served (`Queues.queues`): SLA close to breach first, then priority, then the
longest waiting; with cases of a queue no longer configured in the last queue. On SQLite and PostgreSQL."""

from __future__ import annotations

from handoff.cases.desk import Desk
from handoff.cases.routing import BREACHED, HIGH, WARNING
from handoff.store.records import Status


async def test_each_place_is_its_place_in_the_served_order(desk: Desk) -> None:
    conversations, queues, store = desk.conversations, desk.queues, desk.conversations.store
    cases = []
    for _ in range(24):
        started, _ = await conversations.start("web", "en", None)
        cases.append(await conversations.transition(started, Status.QUEUED, reason="customer_request", actor="bot"))
    for case in cases[5::4]:
        await store.update_conversation(case.id, priority=HIGH)
    await store.update_conversation(cases[20].id, first_response_sla=WARNING)
    await store.update_conversation(cases[22].id, resolution_sla=BREACHED, priority=HIGH)
    await store.update_conversation(cases[3].id, queue="gone")  # a queue no longer configured: the last one's
    served = [c.id for c, _ in await queues.waiting(desk.conversations.routing.queues)]
    assert len(served) == 24
    assert served[:2] == [cases[22].id, cases[20].id]  # close to breach (high first), then high priority
    assert served[2:7] == [c.id for c in cases[5::4] if c.id != cases[22].id]
    for case in cases:
        place = await queues.place(await conversations.get(case.id))
        assert place is not None and place.position == served.index(case.id) + 1
    resolved = await conversations.transition(await conversations.get(cases[0].id), Status.CANCELLED,
                                              reason="spam", actor="t")
    assert await queues.place(resolved) is None
    assert (await queues.place(await conversations.get(cases[1].id))) is not None
