"""Typed keys of the app's state (aiohttp ``web.AppKey``)."""

from __future__ import annotations

from aiohttp import web

from bot.tracker_stores import TrackerStore
from handoff.cases.bot_turns import BotTurns
from handoff.cases.conversations import Conversations
from handoff.cases.desk import Desk
from handoff.cases.rasa_bridge import RasaBridge
from handoff.contacts.directory import Contacts
from handoff.editorial.live_index import LiveIndex
from handoff.editorial.publishing import Publisher
from handoff.limits.limiter import Limiter
from handoff.metrics.node import NodeMetrics
from handoff.reports.figures import Reports
from handoff.settings import Settings
from handoff.staff.accounts import AgentAuth
from handoff.staff.audit import AuditLog
from handoff.staff.roster import StaffAccounts
from handoff.web.agent import AgentNamespace
from knowledge_index.article_files import ArticleFiles

SETTINGS = web.AppKey("settings", Settings)
AUTH = web.AppKey("auth", AgentAuth)
STAFF = web.AppKey("staff", StaffAccounts)  # every change to a staff account
AGENT_SOCKETS = web.AppKey("agent_sockets", AgentNamespace)  # the namespace /agent of this node
AUDIT = web.AppKey("audit", AuditLog)  # the audit log of staff actions
BRIDGE = web.AppKey("bridge", RasaBridge)
# The bot's queue in front of Rasa, with its health check (`BotTurns.health`): depth, in flight, refusals.
BOT_TURNS = web.AppKey("bot_turns", BotTurns)
CONVERSATIONS = web.AppKey("conversations", Conversations)
DESK = web.AppKey("desk", Desk)  # the cases wired: conversations, presence, queues, assignment, sweeper
CONTACTS = web.AppKey("contacts", Contacts)
REPORTS = web.AppKey("reports", Reports)
ARTICLES = web.AppKey("articles", ArticleFiles)
INDEX = web.AppKey("index", LiveIndex)  # the knowledge index this app answers from
PUBLISHER = web.AppKey("publisher", Publisher)
TRACKERS = web.AppKey("trackers", TrackerStore)  # Rasa's trackers, deleted with their cases (issue 18)
LIMITER = web.AppKey("limiter", Limiter)  # the limits of the public entries (handoff/limits/)
METRICS = web.AppKey("metrics", NodeMetrics)  # what this node serves at /metrics (handoff/metrics/)
