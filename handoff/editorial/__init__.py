"""The knowledge base's editorial work (docs/editing.md).

- ``publishing.py``, ``publish_cli.py``: retrain and publish in one action, behind the quality gate,
  with a history and rollback; the same from a shell.
- ``live_index.py``: the index the app answers from, swapped when a new version is published.
- ``drafts.py``: draft articles from agents' replies to the questions the bot could not answer (the
  content gaps of handoff/reports/).
"""
