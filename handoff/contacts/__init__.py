"""Contacts (people), accounts (companies, in a hierarchy) and entitlements (``directory.py``, docs/contacts.md)."""
