"""What a customer's client sends and gets: the socket.io namespace ``/chat`` and the REST API for apps
(connectors/mobile_api.py) take the same payloads and answer with the same shapes."""

from __future__ import annotations

import functools
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, create_model
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from handoff.wire.fields import (
    DEFAULT_MESSAGE_LENGTH,
    MESSAGE_LENGTH,
    Bool,
    ClientId,
    Integer,
    MessageText,
    OptionalText,
    Payload,
    QueryInteger,
    QueryNumber,
    Reply,
    Text,
    TimeOut,
)
from handoff.wire.replies import Conversation, Message, Survey

MAX_SEQ = 2**31
MAX_WAIT_SECONDS = 30.0
LOCALE = "^[a-z]{2}(-[A-Z]{2})?$"
JWT = "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$"


class ClientChannel(StrEnum):
    """The channels a customer's own client starts conversations on (the socket or REST); a channel with
    a connector of its own (a messenger) starts them there."""

    WEB = "web"
    MOBILE = "mobile"


def _locale(value: str) -> str:
    import re

    if not re.fullmatch(LOCALE[1:-1], value):
        raise PydanticCustomError("invalid_payload", "must look like en or de-DE")
    return value


Locale = Annotated[str, Field(strict=True, json_schema_extra={"pattern": LOCALE}), AfterValidator(_locale)]


class StartConversation(Payload):
    """`start_conversation` on the socket (``channel`` web by default)."""

    channel: ClientChannel = ClientChannel.WEB
    locale: Locale = "en"
    name: Annotated[str | None, OptionalText(80)] = Field(None, description="shown to agents; empty or null: Customer")
    earlier_token: Annotated[str | None, OptionalText(200)] = Field(
        None, description="the token of an earlier conversation of the customer's")
    identity: Annotated[str | None, OptionalText(4000, pattern=JWT)] = Field(
        None, description="the host site's signed identity (a JSON Web Token, docs/contacts.md); only where the "
                          "server has an identity_secret: elsewhere the document leaves this field out")


class StartConversationRest(StartConversation):
    """`POST /api/conversations`: the payload of `start_conversation`, ``channel`` mobile by default."""

    channel: ClientChannel = ClientChannel.MOBILE


class ResumeConversation(Payload):
    token: Annotated[str, Text(200)]
    after_seq: Annotated[int, Integer(0, MAX_SEQ)] = 0
    identity: Annotated[str | None, OptionalText(4000, pattern=JWT)] = Field(
        None, description="the host site's current signed identity of the customer: required to resume a "
                          "conversation whose contact is known (docs/contacts.md)")


class SendMessage(Payload):
    """`send_message`: a text, or a button the bot offered in its latest message (its ``payload``)."""

    text: Annotated[str, MessageText()]
    payload: Annotated[str | None, OptionalText(200)] = Field(
        None, description="a button's payload from the bot's latest message")
    client_id: ClientId


class SetTyping(Payload):
    typing: Bool


class MessagesQuery(Payload):
    """The query of `GET /api/conversations/{conversation_id}/messages`."""

    after_seq: Annotated[int, QueryInteger(0, MAX_SEQ)] = Field(
        0, description="The last `seq` the app has shown (0, the default, for all)")
    wait: Annotated[float, QueryNumber(0, MAX_WAIT_SECONDS)] = Field(
        0.0, description="Seconds to wait for a message when there is none after `after_seq` yet (0, the default: "
                         "answer at once). The answer comes as soon as there is one, else with an empty list.")


def _not_asked(value: Any) -> Any:
    raise PydanticCustomError("invalid_payload", "this survey does not ask it")


# The answers to every question a survey may ask (handoff/surveys/questions.py: the questions, their
# scales): satisfaction's ``rating`` is required; the others may be left out or null. ``comment`` is as
# long as a message may be.
SURVEY_FIELDS: dict[str, Any] = {
    "rating": (Annotated[int, Integer(1, 5)], ...),
    "comment": (Annotated[str | None, OptionalText(DEFAULT_MESSAGE_LENGTH, setting=MESSAGE_LENGTH)], None),
    "nps": (Annotated[int | None, Integer(0, 10)], None),
    "effort": (Annotated[int | None, Integer(1, 7)], None),
}


@functools.cache
def survey_answer(asked: tuple[str, ...]) -> type[Payload]:
    """The model of `answer_survey` for a survey that asks the questions whose fields are ``asked``; the
    field of a question it does not ask is refused."""
    fields: dict[str, Any] = {name: SURVEY_FIELDS[name] if name in asked else
              (Annotated[Any, AfterValidator(_not_asked), SkipJsonSchema()], None) for name in SURVEY_FIELDS}
    model: type[Payload] = create_model("SurveyAnswer", __base__=Payload, **fields)
    return model


SurveyAnswer = survey_answer(tuple(SURVEY_FIELDS))  # every question asked: the shape docs/protocol.md shows


class Started(Reply):
    conversation: Conversation
    token: str = Field(min_length=1, description="the only key to the conversation: keep it")


class Resumed(Reply):
    conversation: Conversation
    messages: list[Message]


class ConversationReply(Reply):
    conversation: Conversation


class Messages(Reply):
    messages: list[Message]
    conversation: Conversation


class MessageReply(Reply):
    message: Message


class SurveyReply(Reply):
    survey: Survey


class QuestionId(StrEnum):
    SATISFACTION = "satisfaction"
    COMMENT = "comment"
    NPS = "nps"
    EFFORT = "effort"


class Question(Reply):
    """A question of the survey; ``scale`` (lowest and highest answer) is left out for free text."""

    id: QuestionId
    scale: Annotated[list[int], Field(min_length=2, max_length=2)] | None = None


class SurveyState(Reply):
    """`GET /api/surveys/{token}`: where the survey of a link stands."""

    case_number: int
    locale: str
    questions: list[Question]
    answered: bool
    expires_at: TimeOut | None
    expired: bool


class WidgetConfig(Reply):
    """`GET /api/widget/config`: what the web widget needs before it connects."""

    max_message_length: int = Field(ge=1)


class Empty(Reply):
    """An ack with nothing more than ``ok``."""


class Typing(Reply):
    """`typing_changed`: someone on the other side started or stopped typing."""

    conversation_id: str
    sender: Literal["customer", "agent", "bot"]
    name: str
    typing: bool


# Each event of ``/chat``: the model of its payload and of its ack's result (docs/protocol.md). The
# survey's answer follows the settings' questions (`survey_answer`); SurveyAnswer asks them all.
CHAT_EVENTS: dict[str, tuple[type[Payload], type[Reply]]] = {
    "start_conversation": (StartConversation, Started),
    "resume_conversation": (ResumeConversation, Resumed),
    "send_message": (SendMessage, MessageReply),
    "answer_survey": (SurveyAnswer, SurveyReply),
    "set_typing": (SetTyping, Empty),
}
# The customer's REST calls besides the API for apps (connectors/mobile_api.py, which has its own
# OpenAPI document), by "METHOD path".
REST_REPLIES: dict[str, type[Reply]] = {
    "GET /api/surveys/{token}": SurveyState,
    "POST /api/surveys/{token}": SurveyReply,
    "GET /api/widget/config": WidgetConfig,
}
# What the server sends on ``/chat``.
CHAT_SENT: dict[str, type[Reply]] = {"message_created": Message, "case_updated": Conversation,
                                     "typing_changed": Typing}
