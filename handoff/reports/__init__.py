"""Supervisors' reports (docs/reports.md).

- ``figures.py``: what the cases of a period say; ``exports.py``: the CSV exports of a period.
- ``content_gaps.py``, ``question_groups.py``: what customers asked that the bot could not answer,
  grouped by meaning (the editors draft articles from them, handoff/editorial/drafts.py).
"""
