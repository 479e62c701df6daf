"""Typed keys of the app's state (aiohttp ``web.AppKey``)."""

from __future__ import annotations

from aiohttp import web

from handoff.agents import AgentAuth
from handoff.contacts import Contacts
from handoff.conversations import Conversations
from handoff.masking import Masker
from handoff.rasa_bridge import RasaBridge
from handoff.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
AUTH = web.AppKey("auth", AgentAuth)
BRIDGE = web.AppKey("bridge", RasaBridge)
CONVERSATIONS = web.AppKey("conversations", Conversations)
CONTACTS = web.AppKey("contacts", Contacts)
# What the reports show of stored text: `app[MASK_FOR_REPORTS](text)` (setting mask_in_reports, docs/privacy.md).
MASK_FOR_REPORTS = web.AppKey("mask_for_reports", Masker)
