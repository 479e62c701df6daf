"""The app's logs (docs/operations.md, "Metrics and logs"): lines of text, or one JSON object a line
(``log_format``). The bottom of the rooms, beside the metrics: every room may name what its work concerns.

- ``context.py``: the request (REST request or socket event) and the conversation a log line is about,
  kept in context variables that the entry points and `Conversations.locked` set;
- ``lines.py``: the formats, set up once when `casedesk serve` or `casedesk run` starts.

A log line never carries what a customer wrote: log calls name conversations by their id, never quote them.
"""
