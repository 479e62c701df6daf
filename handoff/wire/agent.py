"""What an agent's panel sends and gets on the socket.io namespace ``/agent`` (docs/protocol.md)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from handoff.wire.customer import MAX_SEQ, Empty, MessageReply, Typing
from handoff.wire.fields import Bool, ClientId, Integer, MessageText, OptionalText, Payload, Reply, Text
from handoff.wire.replies import CaseSummary, Message

ConversationId = Annotated[str, Text(64)]
MAX_RESUMED = 200  # cases in one resume_cases


class Availability(StrEnum):
    """Whether an agent takes cases now (handoff/cases/presence.py): only available agents count."""

    AVAILABLE = "available"
    BUSY = "busy"
    AWAY = "away"


class Assignment(StrEnum):
    PICK = "pick"
    AUTO = "auto"


class ListCases(Payload):
    """`list_cases` takes no fields (``{}``, or no payload at all)."""


class CaseRef(Payload):
    """`accept_case`, `return_to_bot`: the case, by its conversation's id."""

    conversation_id: ConversationId


class AgentMessage(Payload):
    """`send_message` to the customer, and `add_note`, a private note."""

    conversation_id: ConversationId
    text: Annotated[str, MessageText()]
    client_id: ClientId


class SeenCase(Payload):
    """A case whose transcript the panel holds, up to ``after_seq`` (the last sequence number it saw)."""

    conversation_id: ConversationId
    after_seq: Annotated[int, Integer(0, MAX_SEQ)] = 0


class ResumeCases(Payload):
    """`resume_cases`: what the panel saw of each case it holds, after it (re)connected with ``resume``."""

    cases: Annotated[list[SeenCase], Field(max_length=MAX_RESUMED)]


class Resumed(Reply):
    """Every message of the cases named that the socket has not seen, by case, in order."""

    messages: list[Message]


class TransferCase(Payload):
    conversation_id: ConversationId
    note: Annotated[str, MessageText()]
    queue: Annotated[str | None, OptionalText(40)] = None
    to_agent: Annotated[str | None, OptionalText(80)] = None


class AgentTyping(Payload):
    conversation_id: ConversationId
    typing: Bool


class SetAvailability(Payload):
    availability: Availability


class ResolveCase(Payload):
    conversation_id: ConversationId
    category: Annotated[str, Text(40)]


class QueueInfo(Reply):
    name: str
    assignment: Assignment


class Colleague(Reply):
    username: str
    display_name: str
    availability: Availability


class CaseList(Reply):
    queued: list[CaseSummary]
    mine: list[CaseSummary]
    queues: list[QueueInfo]
    all_queues: list[str]
    colleagues: list[Colleague]
    resolution_categories: list[str]


class Accepted(Reply):
    case: CaseSummary
    messages: list[Message]


class CaseReply(Reply):
    case: CaseSummary


class AvailabilityReply(Reply):
    availability: Availability


class SessionReason(StrEnum):
    SIGNED_OUT = "signed_out"
    DISABLED = "disabled"
    REVOKED = "revoked"
    PASSWORD_CHANGED = "password_changed"
    ROLES_CHANGED = "roles_changed"
    EXPIRED = "expired"
    ENDED = "ended"  # ended where this node did not hear why (`casedesk agent`, another process)


class SessionEnded(Reply):
    reason: SessionReason


# Each event of ``/agent``: the model of its payload and of its ack's result (docs/protocol.md).
AGENT_EVENTS: dict[str, tuple[type[Payload], type[Reply]]] = {
    "list_cases": (ListCases, CaseList),
    "accept_case": (CaseRef, Accepted),
    "send_message": (AgentMessage, MessageReply),
    "resolve_case": (ResolveCase, CaseReply),
    "add_note": (AgentMessage, MessageReply),
    "transfer_case": (TransferCase, CaseReply),
    "return_to_bot": (CaseRef, CaseReply),
    "set_typing": (AgentTyping, Empty),
    "set_availability": (SetAvailability, AvailabilityReply),
    "resume_cases": (ResumeCases, Resumed),
}
# What the server sends on ``/agent``.
AGENT_SENT: dict[str, type[Reply]] = {"case_queued": CaseSummary, "case_assigned": CaseSummary,
                                      "case_updated": CaseSummary, "message_created": Message,
                                      "typing_changed": Typing, "session_ended": SessionEnded}
