"""A contact's data (docs/privacy.md): export, deletion and retention of closed cases (``erasure.py``)."""
