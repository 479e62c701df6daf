"""What a customer sends, validated by the same models on every channel (socket.io ``/chat``, the REST
API for apps in connectors/mobile_api.py): starting a conversation, a message, the survey's answers.

The models are handoff/wire/customer.py's; this adds what needs the settings and the rooms below: the
message length (the validation context), the signed identity (on a start, and on every resume of a
conversation whose contact is known) and the survey's questions. A payload
that does not validate raises `pydantic.ValidationError`, which both boundaries turn into the error
shape (`handoff.wire.api_error`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from handoff.cases import identity
from handoff.settings import Settings
from handoff.store.records import Conversation, Identity
from handoff.surveys import questions
from handoff.wire import customer
from handoff.wire.fields import MESSAGE_LENGTH, Payload


@dataclasses.dataclass(frozen=True)
class Start:
    channel: str
    locale: str
    name: str | None
    earlier_token: str | None
    identity: Identity | None


def limits(settings: Settings) -> dict[str, int]:
    """The limits of the wire's models that come from the settings (their validation context)."""
    return {MESSAGE_LENGTH: settings.max_message_length}


def identity_rules(settings: Settings) -> identity.Rules:
    """What an identity token must satisfy on this server (docs/contacts.md)."""
    return identity.Rules(settings.identity_secret, settings.identity_audience, settings.identity_max_age_seconds)


def start(payload: Any, settings: Settings, model: type[customer.StartConversation]) -> Start:
    """The payload of `start_conversation` (docs/protocol.md); ``model`` says the default channel."""
    asked = model.model_validate(payload, context=limits(settings))
    known = identity.verify(asked.identity, identity_rules(settings)) if asked.identity else None
    return Start(asked.channel.value, asked.locale, asked.name, asked.earlier_token, known)


def check_owner(conversation: Conversation, identity_token: str | None, settings: Settings) -> Conversation:
    """The conversation, if this client may open it: one whose contact is known only with that contact's
    current identity token (`identity.check_owner`)."""
    identity.check_owner(conversation.customer_external_id, identity_token, identity_rules(settings))
    return conversation


def message(payload: Any, settings: Settings) -> customer.SendMessage:
    """The payload of `send_message`: the text (at most `max_message_length`), a button's payload and the
    client's id of the message."""
    return customer.SendMessage.model_validate(payload, context=limits(settings))


def survey_model(settings: Settings) -> type[Payload]:
    """The model of `answer_survey` for the questions the settings ask (`survey_questions`)."""
    return customer.survey_answer(tuple(questions.QUESTIONS[q].field for q in settings.survey_questions))


def survey(payload: Any, settings: Settings) -> questions.Answers:
    """A customer's answers to the survey: the rating always; the other questions only when it asks them."""
    answered = survey_model(settings).model_validate(payload, context=limits(settings))
    asked = (questions.QUESTIONS[q].field for q in settings.survey_questions)
    return questions.Answers(**{field: getattr(answered, field) for field in asked})
