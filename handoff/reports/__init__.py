"""Supervisors' reports (``figures.py``) and the CSV exports of a period (``exports.py``), docs/reports.md."""
