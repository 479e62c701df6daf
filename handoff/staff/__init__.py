"""The staff: agents', supervisors' and editors' accounts, roles and sign-in (``accounts.py``); the audit log
of their actions (``audit.py``)."""
