"""Conversations: the one owner of every case status change and every message posted.

Each change is validated against the lifecycle, stored (with its timeline event, or the message with its
sequence number) and only then published to the socket rooms. Everything about one conversation runs
under that conversation's lock, so its messages are stored and delivered in order.

What concerns a case is sent to its customer's channel, its queue's room and its agent's room (rooms:
handoff/cases/presence.py). Each status change is announced (`changed`, a `CaseChanged`) once stored and
before the case is published: the survey request, the queue places and automatic assignment listen
(handoff/cases/desk.py wires them). A case entering the queue is routed by `Queues.routed`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import socketio

from handoff import catalogue
from handoff.cases import customers, lifecycle, masking, resends
from handoff.cases.arrivals import Arrivals
from handoff.cases.bot_replies import BUSY, PERSON
from handoff.cases.bot_side import BotSide
from handoff.cases.bot_turns import Bot
from handoff.cases.channels import Channels
from handoff.cases.events import CaseChanged, NoteAdded, Signal
from handoff.cases.presence import AGENT, agent_room, queue_room
from handoff.cases.queues import Queues
from handoff.cases.views import case_summary, conversation_view, message_view
from handoff.errors import ApiError
from handoff.limits.limiter import Limiter
from handoff.logs.context import about_conversation
from handoff.metrics import series
from handoff.settings import Settings
from handoff.staff.accounts import token_digest
from handoff.store.records import (
    CLOSED,
    OPEN,
    Agent,
    AlreadyExists,
    Conversation,
    Identity,
    Message,
    Posted,
    Reason,
    StaleStatus,
    Status,
    Survey,
    utcnow,
)
from handoff.store.sql import SqlCaseStore
from handoff.surveys.links import SurveyLinks
from handoff.surveys.questions import Answers

log = logging.getLogger(__name__)

CANCEL_REASONS = ("spam", "duplicate", "test", "other")
NOTE = "note"  # the sender of an agent's private note
CUSTOMER = frozenset({"customer"})
AGENTS = frozenset({"agent", NOTE})
WRITTEN_BY_PEOPLE = frozenset({"customer", "agent", NOTE})  # masked before they are stored (mask_in_transcripts)
KEEP_PLACE = frozenset({Reason.AGENT_DISCONNECTED, Reason.TRANSFERRED})  # requeued cases keep their first queued_at


class Conversations:
    def __init__(self, store: SqlCaseStore, sio: socketio.AsyncServer, bot: Bot, settings: Settings,
                 queues: Queues, channels: Channels, limiter: Limiter | None = None) -> None:
        self.store = store
        # Where customers are reached, by their conversation's channel (handoff/cases/channels.py).
        self.channels = channels
        self.queues = queues
        self.routing = queues.routing
        self._sio = sio
        self._settings = settings
        self._mask = masking.for_transcripts(settings)  # before a person's text is stored or sent to Rasa
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self.changed: Signal[CaseChanged] = Signal()  # every status change, stored, before it is published
        self.noted: Signal[NoteAdded] = Signal()  # every private note an agent adds, stored
        self.survey_links = SurveyLinks(store, settings.survey_link_days)
        self.arrivals = Arrivals()  # long-polls waiting for a conversation's next message (REST for apps)
        # The bot's side: its turns through the bot's queue in front of Rasa (handoff/cases/bot_turns.py), its
        # replies, and the limits of hand-overs per contact and per client address (docs/settings.md, "Limits").
        self.bot = BotSide(self, bot, settings.bot_name, limiter)

    @asynccontextmanager
    async def locked(self, conversation_id: str) -> AsyncIterator[None]:
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = self._locks[conversation_id] = asyncio.Lock()
        async with lock:
            with about_conversation(conversation_id):  # the logs' conversation_id (handoff/logs)
                yield

    # -- reading -----------------------------------------------------------------------------------

    async def get(self, conversation_id: str) -> Conversation:
        conversation = await self.store.conversation(conversation_id)
        if conversation is None:
            raise ApiError("not_found", f"conversation {conversation_id} does not exist")
        return conversation

    async def rejoin(self, conversation_id: str, after_seq: int, join: Callable[[], Awaitable[None]]) -> list[Message]:
        """``join`` the customer's socket to the conversation's room and return what it missed after
        ``after_seq``, under the conversation's lock: no message can be posted in between, so each
        one reaches the socket exactly once, in this replay or live after it."""
        async with self.locked(conversation_id):
            await join()
            return await self.customer_messages(conversation_id, after_seq)

    async def customer_messages(self, conversation_id: str, after_seq: int) -> list[Message]:
        """What the customer may read after ``after_seq``: everything but the agents' private notes."""
        return [m for m in await self.store.messages_after(conversation_id, after_seq) if m.sender != NOTE]

    async def customer_view(self, conversation: Conversation) -> dict[str, Any]:
        return conversation_view(conversation, await self.queues.place(conversation),
                                 await self.survey_links.url(conversation))

    async def summary(self, conversation: Conversation) -> dict[str, Any]:
        return case_summary(conversation, await self.queues.place(conversation), self._settings.sla_warning_ratio)

    # -- customers ---------------------------------------------------------------------------------

    async def start(self, channel: str, locale: str, name: str | None, earlier_token: str | None = None,
                    identity: Identity | None = None) -> tuple[Conversation, str]:
        """A new conversation, filed under the contact that ``earlier_token`` (one of the customer's earlier
        conversations, so agents see their earlier cases) and ``identity`` (the host site's) say
        (handoff/cases/customers.py)."""
        earlier = await self.by_token(earlier_token, "earlier_token") if earlier_token is not None else None
        customer_id = await customers.contact_for(self.store, earlier, identity)
        token = secrets.token_urlsafe(32)
        conversation = await self.store.create_conversation(
            conversation_id="c_" + secrets.token_hex(8), token_hash=token_digest(token),
            customer_id=customer_id, customer_name=name or "Customer", channel=channel, locale=locale,
            status=Status.BOT, actor="customer", identity=identity,
        )
        return conversation, token

    async def earlier_cases(self, conversation: Conversation) -> list[Conversation]:
        return [c for c in await self.store.customer_conversations(conversation.customer_id) if c.id != conversation.id]

    async def reprioritise(self, customer_id: str) -> None:
        """The customer's priority may have changed (preferred, an entitlement of theirs or of their
        account): their waiting cases get the priority and the SLA deadlines it gives, from the start."""
        for c in await self.store.customer_conversations(customer_id):
            if c.status != Status.QUEUED:
                continue
            async with self.locked(c.id):
                c = await self.get(c.id)
                entitlement = await self.store.active_entitlement(c.customer_id, utcnow())
                priority = self.routing.priority(c.customer_preferred, entitlement)
                if c.status == Status.QUEUED and c.queued_at is not None and (
                        priority != c.priority or entitlement != c.entitlement):
                    due = self.routing.deadlines(self.routing.queue(c.queue), priority, c.queued_at)
                    await self.store.update_conversation(
                        c.id, priority=priority, entitlement=entitlement, first_response_due_at=due.first_response,
                        resolution_due_at=due.resolution, first_response_sla=None, resolution_sla=None)
                    await self.publish_case(await self.get(c.id))
        self.queues.positions_changed()

    async def by_token(self, token: str, field: str = "token") -> Conversation:
        """The conversation of ``token``, while it opens it: `conversation_token_days` after its last message."""
        conversation = await self.store.conversation_by_token(token_digest(token))
        if conversation is None:
            raise ApiError("unauthorized", f"{field}: no conversation has this token")
        days = self._settings.conversation_token_days
        if conversation.last_activity_at < utcnow() - timedelta(days=days):
            raise ApiError("unauthorized", f"{field}: the token has expired ({days:g} days after the conversation's "
                                           "last message); start a new conversation")
        return conversation

    async def customer_message(self, conversation_id: str, customer_name: str, text: str, payload: str | None,
                               address: str | None = None, client_id: str | None = None) -> Message:
        """``address``: the client's, for the limit of hand-overs per address; ``client_id``: the client's id
        of the message. A repeated send (handoff/cases/resends.py) is answered with the stored message."""
        async with self.locked(conversation_id):
            if (again := await resends.repeated(self.store, conversation_id, client_id, CUSTOMER, payload)) is not None:
                return again
            offered_by = None  # the kind of the bot's message whose button was pressed
            if payload is not None:
                if (await self.get(conversation_id)).status in CLOSED:
                    raise ApiError("conflict", "this conversation has ended; start a new one")
                offered_by = await self._check_button(conversation_id, payload)
            try:
                posted = await self.post(conversation_id, "customer", customer_name, text,
                                          {"payload": payload} if payload else {}, statuses=OPEN, client_id=client_id)
            except StaleStatus:
                raise ApiError("conflict", "this conversation has ended; start a new one") from None
            if posted.status == Status.BOT and not posted.repeated:  # the bot gets the text as stored: masked
                await self.bot.turn(await self.get(conversation_id), payload or posted.message.text, address,
                                    person=offered_by == BUSY and payload == PERSON)
            return posted.message

    async def _check_button(self, conversation_id: str, payload: str) -> str | None:
        """The ``kind`` of the bot's latest message, if it offered ``payload``; else `invalid_payload`."""
        payloads, kind = await resends.last_offer(self.store, conversation_id)
        if payload not in payloads:
            raise ApiError("invalid_payload", "payload: not one of the buttons the bot offered last")
        return kind

    async def typing(self, conversation_id: str, sender: str, name: str, typing: bool) -> None:
        """Tell the other side that the customer or the agent is typing (or stopped); not stored.
        Only while the case is with an agent: the queue has no reader (the bot's own: `BotSide.typing`)."""
        conversation = await self.get(conversation_id)
        if conversation.status != Status.WITH_AGENT or conversation.agent_id is None:
            return
        event = {"conversation_id": conversation_id, "sender": sender, "name": name, "typing": typing}
        if sender == "customer":
            await self._sio.emit("typing_changed", event, room=agent_room(conversation.agent_id), namespace=AGENT)
        else:
            await self.channels.typing(conversation.channel, conversation_id, event)

    async def answer_survey(self, conversation_id: str, answers: Answers, via: str = "chat") -> Survey:
        """The customer's one survey answer, in the chat or through the link (``via``): whichever comes
        first is stored, with the case's agent; the customer and the agent are sent the case again."""
        async with self.locked(conversation_id):
            conversation = await self.get(conversation_id)
            if conversation.status != Status.RESOLVED:
                raise ApiError("conflict", "the survey opens when the conversation is resolved")
            try:
                survey = await self.store.add_survey(
                    conversation_id, answers.rating, answers.comment and self._mask(answers.comment),
                    conversation.agent_id, nps=answers.nps, effort=answers.effort, answered_via=via)
            except AlreadyExists:
                raise ApiError("conflict", "this survey has been answered already") from None
            await self.publish_case(await self.get(conversation_id))
        return survey

    # -- agents ------------------------------------------------------------------------------------

    async def accept(self, agent: Agent, conversation_id: str) -> Conversation:
        """The agent picks a case from a queue they may take."""
        async with self.locked(conversation_id):
            return await self.assign(await self.get(conversation_id), agent, Reason.ACCEPTED, f"agent:{agent.username}")

    async def assign(self, conversation: Conversation, agent: Agent, reason: Reason, actor: str) -> Conversation:
        """Give a queued case to an agent with the queue's skills and room for one more (under its lock)."""
        if conversation.status != Status.QUEUED:
            raise ApiError("conflict", f"case {conversation.number} is {conversation.status}, not queued")
        await self._check_may_take(agent, conversation.queue)
        return await self.transition(conversation, Status.WITH_AGENT, reason=reason, actor=actor, agent=agent)

    async def _check_may_take(self, agent: Agent, queue_name: str | None) -> None:
        """The agent has the queue's skills and room for one more conversation."""
        queue = self.routing.queue(queue_name)
        if not self.routing.may_take(agent.username, queue):
            needed = ", ".join(sorted(queue.skills - self.routing.skills(agent.username)))
            raise ApiError("forbidden", f"queue {queue.name} needs the skills {needed}")
        capacity = self.routing.capacity(agent.username)
        if (await self.store.agent_loads()).get(agent.id, 0) >= capacity:
            raise ApiError("conflict", f"{agent.display_name} already has {capacity} conversations, the capacity; "
                                       "resolve one first")

    async def _held(self, agent: Agent, conversation_id: str) -> Conversation:
        conversation = await self.get(conversation_id)
        if conversation.status != Status.WITH_AGENT or conversation.agent_id != agent.id:
            raise ApiError("forbidden", f"case {conversation.number} is not assigned to you")
        return conversation

    async def agent_message(self, agent: Agent, conversation_id: str, text: str, client_id: str | None = None
                            ) -> Message:
        """The agent's reply, stored only while the case is theirs (checked in the same statement); sent
        again with the same ``client_id``, the reply stored the first time."""
        async with self.locked(conversation_id):
            if (again := await resends.repeated(self.store, conversation_id, client_id, AGENTS)) is not None:
                return again
            try:
                posted = await self.post(conversation_id, "agent", agent.display_name, text, {},
                                          statuses=[Status.WITH_AGENT], agent_id=agent.id, client_id=client_id)
            except StaleStatus:
                await self._held(agent, conversation_id)  # says why
                raise ApiError("conflict", "the case changed meanwhile; reload it") from None
            message = posted.message
            if posted.first_response_at is None and not posted.repeated:
                conversation = await self.get(conversation_id)
                state = self.routing.sla_state(conversation.queued_at, conversation.first_response_due_at,
                                               message.created_at, message.created_at)
                await self.store.update_conversation(conversation_id, first_response_at=message.created_at,
                                                     first_response_sla=state)
                await self.publish_case(await self.get(conversation_id))
            return message

    async def agent_typing(self, agent: Agent, conversation_id: str, typing: bool) -> None:
        await self._held(agent, conversation_id)
        await self.typing(conversation_id, "agent", agent.display_name, typing)

    async def add_note(self, agent: Agent, conversation_id: str, text: str, client_id: str | None = None) -> Message:
        """A private note on the case: stored in the transcript, shown to agents, never to the customer."""
        async with self.locked(conversation_id):
            conversation = await self._held(agent, conversation_id)
            if (again := await resends.repeated(self.store, conversation_id, client_id, AGENTS)) is not None:
                return again
            message = (await self.post(conversation.id, NOTE, agent.display_name, text, {"kind": "note"},
                                        client_id=client_id)).message
        await self.noted.notify(NoteAdded(conversation_id, message.seq, agent))
        return message

    async def transfer(self, agent: Agent, conversation_id: str, note: str, queue: str | None = None,
                       to_username: str | None = None) -> Conversation:
        """The agent passes the case on, with a private note saying why: back to its queue or to another
        queue (keeping its place from when it was first queued), or straight to a colleague who is
        signed in, has the queue's skills and room for one more."""
        if queue is not None and not self.routing.has_queue(queue):
            raise ApiError("not_found", f"queue {queue} does not exist")
        colleague = None
        if to_username is not None:
            colleague = await self.store.agent_by_username(to_username)
            if colleague is None or not await self.store.connected("agent", colleague.id):
                raise ApiError("conflict", f"agent {to_username} is not signed in")
            if colleague.id == agent.id:
                raise ApiError("invalid_payload", "to_agent: the case is yours already")
        async with self.locked(conversation_id):
            conversation = await self._held(agent, conversation_id)
            if colleague is not None:  # checked before anything moves
                await self._check_may_take(colleague, queue or conversation.queue)
            to = {key: value for key, value in (("queue", queue), ("to_agent", to_username)) if value}
            await self.post(conversation.id, NOTE, agent.display_name, note, {"kind": "note", "transfer": True, **to})
            conversation = await self.back_to_queue(conversation, "system.transferred", {}, Reason.TRANSFERRED,
                                                     f"agent:{agent.username}", queue=queue)
            if colleague is not None:
                conversation = await self.assign(conversation, colleague, Reason.TRANSFERRED_TO_AGENT,
                                                  f"agent:{agent.username}")
            return conversation

    async def return_to_bot(self, agent: Agent, conversation_id: str) -> Conversation:
        """The agent hands the customer back to the bot, which answers their next message."""
        async with self.locked(conversation_id):
            conversation = await self._held(agent, conversation_id)
            await self.tell(conversation, "system.back_to_bot", {"kind": "returned_to_bot"})
            return await self.transition(conversation, Status.BOT, reason=Reason.RETURNED_TO_BOT,
                                          actor=f"agent:{agent.username}")

    async def resolve(self, agent: Agent, conversation_id: str, category: str) -> Conversation:
        if category not in self._settings.resolution_categories:
            raise ApiError("invalid_payload", "category: must be one of "
                                              + ", ".join(self._settings.resolution_categories))
        async with self.locked(conversation_id):
            conversation = await self._held(agent, conversation_id)
            return await self.transition(conversation, Status.RESOLVED, reason=Reason.RESOLVED_BY_AGENT,
                                          actor=f"agent:{agent.username}", category=category)

    async def cancel(self, supervisor: Agent, conversation_id: str, reason: str) -> Conversation:
        """A supervisor closes an open case that needs no resolution (spam, a duplicate, a test)."""
        if reason not in CANCEL_REASONS:
            raise ApiError("invalid_payload", "reason: must be one of " + ", ".join(CANCEL_REASONS))
        async with self.locked(conversation_id):
            conversation = await self.get(conversation_id)
            if conversation.status not in OPEN:
                raise ApiError("conflict", f"case {conversation.number} is {conversation.status} already")
            await self.tell(conversation, "system.cancelled", {"kind": "cancelled"})
            return await self.transition(conversation, Status.CANCELLED, reason=Reason(f"cancelled_{reason}"),
                                          actor=f"agent:{supervisor.username}")

    # -- the one owner of status changes ----------------------------------------------------------

    async def transition(
        self, conversation: Conversation, target: Status, *, reason: Reason, actor: str,
        agent: Agent | None = None, queue: str | None = None, category: str | None = None,
    ) -> Conversation:
        current = conversation.status
        if not lifecycle.allowed(current, target):
            raise ApiError("conflict", f"case {conversation.number} cannot go from {current} to {target}")
        now = utcnow()
        fields: dict[str, Any] = {}
        if target == Status.QUEUED and reason in KEEP_PLACE:
            # keeps its first queued_at (at or near the head of the queue) and its SLA deadlines
            fields = {"agent_id": None, **({"queue": queue} if queue else {})}
        elif target == Status.QUEUED:
            fields = {"queued_at": now, "escalation_reason": reason, "agent_id": None,
                      **await self.queues.routed(conversation, now)}
        elif target == Status.WITH_AGENT:
            assert agent is not None
            fields = {"agent_id": agent.id}
        elif target == Status.RESOLVED and current == Status.WITH_AGENT:
            fields = {"resolution": "agent", "resolution_category": category,
                      "resolution_sla": self.routing.sla_state(conversation.queued_at, conversation.resolution_due_at,
                                                               now, now)}
        elif target == Status.RESOLVED:
            fields = {"resolution": "bot"}
        elif target in (Status.ABANDONED, Status.CANCELLED):
            fields = {"resolution": target}
        elif target == Status.BOT:
            fields = {"agent_id": None, "queued_at": None}
        if target in CLOSED:
            fields["closed_at"] = now
        try:
            await self.store.change_status(
                conversation.id, expected=current, status=target, reason=reason, actor=actor, fields=fields
            )
        except StaleStatus:
            raise ApiError("conflict", f"case {conversation.number} changed meanwhile; reload it") from None
        series.case_changed(current, target, reason)  # hand-overs and resolutions (handoff/metrics)
        log.info("case %s: %s -> %s (%s) by %s", conversation.number, current, target, reason, actor)
        updated = await self.get(conversation.id)
        await self.changed.notify(CaseChanged(conversation, updated, reason, actor))
        if target == Status.WITH_AGENT and agent is not None:  # stored before the case is announced as assigned
            await self.tell(updated, "system.joined", {}, agent=agent.display_name)
        updated = await self.get(conversation.id)  # as the listeners left it (the survey request)
        summary = await self.publish_case(updated, conversation)
        if target == Status.QUEUED:
            await self._sio.emit("case_queued", summary, room=self._agent_rooms(updated), namespace=AGENT)
        elif current == Status.QUEUED:
            await self._sio.emit("case_assigned", summary, room=self._agent_rooms(updated, conversation),
                                 namespace=AGENT)
        return updated

    async def back_to_queue(self, conversation: Conversation, key: str, values: dict[str, str], reason: Reason,
                            actor: str, queue: str | None = None) -> Conversation:
        """A case with an agent goes back to its queue (or ``queue``), keeping its place (`KEEP_PLACE`),
        and the customer is told why (the catalogue's ``key``, with ``values``)."""
        await self.tell(conversation, key, {"kind": "requeued", "reason": reason}, **values)
        return await self.transition(conversation, Status.QUEUED, reason=reason, actor=actor, queue=queue)

    # -- storing and publishing -------------------------------------------------------------------

    async def customer_language(self, conversation: Conversation) -> str:
        """The language to speak to the customer (handoff/catalogue): the one the bot last heard them
        write (its replies' ``language``), else their conversation's locale, else English."""
        last = await self.store.last_message_from(conversation.id, ["bot"])
        heard = last.data.get("language") if last else None
        return catalogue.language_of(heard if heard in catalogue.languages() else conversation.locale)

    async def tell(self, conversation: Conversation, key: str, data: dict[str, Any], **values: str) -> Posted:
        """A system message to the customer: the catalogue's ``key`` in their language, with ``values``."""
        text = catalogue.text(await self.customer_language(conversation), key, **values)
        return await self.post(conversation.id, "system", "system", text, data)

    async def post(
        self, conversation_id: str, sender: str, sender_name: str, text: str, data: dict[str, Any],
        statuses: Iterable[str] | None = None, agent_id: str | None = None, client_id: str | None = None,
    ) -> Posted:
        """Store a message (see `SqlCaseStore.append_message` for ``statuses``, ``agent_id`` and ``client_id``),
        then send it to the customer (but a private note) and to the case's agent, and wake this process's
        long-polls of the conversation (`arrivals`). What people write is masked first (`mask_in_transcripts`).
        A message another process stored first under the same ``client_id`` is returned, not sent again."""
        if sender in WRITTEN_BY_PEOPLE:
            text = self._mask(text)
        try:
            posted = await self.store.append_message(conversation_id, sender=sender, sender_name=sender_name,
                                                     text=text, data=data, statuses=statuses, agent_id=agent_id,
                                                     client_id=client_id)
        except KeyError:
            raise ApiError("not_found", f"conversation {conversation_id} does not exist") from None
        if posted.repeated:
            return posted
        self.arrivals.posted(conversation_id)
        payload = message_view(posted.message)
        if sender != NOTE:
            await self.channels.of(posted.channel).deliver(posted.message, payload)
        if posted.agent_id:
            await self._sio.emit("message_created", payload, room=agent_room(posted.agent_id), namespace=AGENT)
        return posted

    def _agent_rooms(self, *versions: Conversation) -> list[str]:
        """The agents' rooms a case concerns: its queue's, and its agent's (before and after a change)."""
        rooms = [queue_room(self.routing.queue(v.queue).name) for v in versions if v.status == Status.QUEUED]
        rooms += [agent_room(v.agent_id) for v in versions if v.agent_id]
        return list(dict.fromkeys(rooms))

    async def publish_case(self, conversation: Conversation, before: Conversation | None = None) -> dict[str, Any]:
        """Send the case as it is now to its customer and its agents; return the agents' view of it."""
        place = await self.queues.place(conversation)
        await self.channels.of(conversation.channel).case_updated(
            conversation.id, conversation_view(conversation, place, await self.survey_links.url(conversation)))
        summary = case_summary(conversation, place, self._settings.sla_warning_ratio)
        rooms = self._agent_rooms(conversation, *([before] if before else []))
        if rooms:
            await self._sio.emit("case_updated", summary, room=rooms, namespace=AGENT)
        return summary
