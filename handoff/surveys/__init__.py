"""The survey after a case: its questions (``questions.py``) and its one-time links (``links.py``)."""
