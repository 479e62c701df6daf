"""The knowledge base's editorial work (docs/editing.md).

- ``publishing.py``, ``publish_cli.py``: retrain and publish in one action, behind the quality gate,
  with a history and rollback; the same from a shell.
- ``live_index.py``: the index the app answers from, swapped when a new version is published.
- ``content_gaps.py``, ``question_groups.py``: what customers asked that the bot could not answer,
  grouped by meaning; ``drafts.py``: draft articles from agents' replies.
"""
