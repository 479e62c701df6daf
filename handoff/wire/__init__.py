"""The typed wire: pydantic models of everything clients send and the server answers (docs/protocol.md).

Depends only on pydantic and handoff.errors; the web handlers, the connectors and handoff/cases/views.py
use it, and nothing here knows of them.

- ``fields.py``: the base classes (`Payload`, `Reply`) and the field types (texts, integers, times,
  query parameters) with the rules every payload follows.
- ``refusals.py``: `api_error`, the one mapping of a validation error to the one error shape, used by
  the REST and the socket boundaries.
- ``replies.py``: the shapes the server answers with (Message, Conversation, CaseSummary, Survey, the
  error), and `shape`, which puts a reply into its model's shape.
- ``customer.py``: the customer's events of ``/chat`` (`CHAT_EVENTS`) and the REST API for apps.
- ``agent.py``: the agents' events of ``/agent`` (`AGENT_EVENTS`).
- ``staff.py``: the staff's REST calls: bodies, queries and replies (`REST_BODIES`, `REST_QUERIES`,
  `REST_REPLIES`); ``editorial.py``: the editors' among them (article files, drafts, trying a
  question, publishing).
- ``openapi.py``: OpenAPI documents assembled per route from the models.
- ``decoding.py``: text that is not valid Unicode (a lone surrogate, bytes that are not UTF-8) refused as
  ``invalid_payload``, by both boundaries, wherever it is in a request.
"""

from handoff.wire.refusals import api_error
from handoff.wire.replies import shape

__all__ = ["api_error", "shape"]
