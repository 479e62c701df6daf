"""The store's tables (SQLAlchemy core). A database's schema is changed only by the revisions in
handoff/store/migrations, applied when the store opens: a change to a table here needs a new revision there
(docs/database.md)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

agents = sa.Table(
    "agents", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("username", sa.String(80), nullable=False, unique=True),
    sa.Column("display_name", sa.String(120), nullable=False),
    sa.Column("password_hash", sa.String(300), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("roles", sa.String(80), nullable=False, server_default="agent"),  # comma-separated (handoff.roles)
    sa.Column("disabled_at", sa.DateTime(timezone=True)),  # null: active (handoff/staff/roster.py)
)

agent_sessions = sa.Table(
    "agent_sessions", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("agent_id", sa.String(40), sa.ForeignKey("agents.id"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

# Companies (B2B); an account may belong to a parent account.
accounts = sa.Table(
    "accounts", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("parent_id", sa.String(40), sa.ForeignKey("accounts.id")),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_accounts_parent", "parent_id"),
)

# Contacts: the people who chat. An anonymous contact has no external_id (the host site's or app's user
# id, from a signed identity token); it may later be merged into a known one.
customers = sa.Table(
    "customers", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("display_name", sa.String(120), nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("preferred", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("external_id", sa.String(200)),
    sa.Column("email", sa.String(200)),
    sa.Column("account_id", sa.String(40), sa.ForeignKey("accounts.id", name="fk_customers_account")),
    sa.UniqueConstraint("external_id", name="uq_customers_external_id"),
    sa.Index("ix_customers_account", "account_id"),
)

# Contracts: a named service entitlement of a contact or of an account (and so of its contacts and of
# its child accounts' contacts), valid between optional dates; an active one gives high priority.
entitlements = sa.Table(
    "entitlements", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("customer_id", sa.String(40), sa.ForeignKey("customers.id")),
    sa.Column("account_id", sa.String(40), sa.ForeignKey("accounts.id")),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("starts_at", sa.DateTime(timezone=True)),
    sa.Column("ends_at", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(customer_id IS NULL) <> (account_id IS NULL)", name="ck_entitlements_one_owner"),
    sa.Index("ix_entitlements_customer", "customer_id"),
    sa.Index("ix_entitlements_account", "account_id"),
)

conversations = sa.Table(
    "conversations", metadata,
    sa.Column("number", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("customer_id", sa.String(40), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("locale", sa.String(10), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("resolution", sa.String(20)),
    sa.Column("escalation_reason", sa.String(40)),
    sa.Column("agent_id", sa.String(40), sa.ForeignKey("agents.id")),
    sa.Column("last_seq", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("queued_at", sa.DateTime(timezone=True)),
    sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("queue", sa.String(40)),
    sa.Column("priority", sa.String(10)),
    sa.Column("resolution_category", sa.String(40)),
    sa.Column("first_response_at", sa.DateTime(timezone=True)),
    sa.Column("first_response_due_at", sa.DateTime(timezone=True)),
    sa.Column("resolution_due_at", sa.DateTime(timezone=True)),
    sa.Column("first_response_sla", sa.String(10)),  # None (on track), warning, breached, met
    sa.Column("resolution_sla", sa.String(10)),
    sa.Column("title", sa.String(200)),  # the customer's first message, shortened
    sa.Column("awaiting", sa.String(10)),  # with an agent: who is to write next, "agent" or "customer"
    sa.Column("entitlement", sa.String(80)),  # the contract that gave the case its priority
    sa.Column("closed_at", sa.DateTime(timezone=True)),  # resolved, abandoned or cancelled
    sa.Index("ix_conversations_customer", "customer_id"),
    sa.Index("ix_conversations_status", "status"),
    sa.Index("ix_conversations_created", "created_at"),
    sa.Index("ix_conversations_closed", "closed_at"),
)

messages = sa.Table(
    "messages", metadata,
    sa.Column("conversation_id", sa.String(40), sa.ForeignKey("conversations.id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("sender", sa.String(20), nullable=False),
    sa.Column("sender_name", sa.String(120), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # The id the client gave the message (a retried send is the same message), unique per conversation.
    sa.Column("client_id", sa.String(64)),
    sa.Index("ix_messages_client_id", "conversation_id", "client_id", unique=True),
)

case_events = sa.Table(
    "case_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(40), sa.ForeignKey("conversations.id"), nullable=False),
    sa.Column("from_status", sa.String(20)),
    sa.Column("to_status", sa.String(20), nullable=False),
    sa.Column("reason", sa.String(80), nullable=False),
    sa.Column("actor", sa.String(80), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_case_events_conversation", "conversation_id"),
    sa.Index("ix_case_events_transition", "from_status", "to_status", "id"),  # recent handling times (0009)
)

# The knowledge articles the bot showed in a case (answered with, or offered to choose from), and whether
# the customer said the answer helped (None: not asked or not answered).
case_articles = sa.Table(
    "case_articles", metadata,
    sa.Column("conversation_id", sa.String(40), sa.ForeignKey("conversations.id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),  # the bot's message that showed it
    sa.Column("article_id", sa.String(120), primary_key=True),
    sa.Column("shown_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("helped", sa.Boolean),
    sa.Index("ix_case_articles_article", "article_id"),
)

# One answer per case: satisfaction 1-5 (always), an optional comment, and the questions the settings
# add (NPS 0-10, effort 1-7); answered in the chat or through the one-time link.
surveys = sa.Table(
    "surveys", metadata,
    sa.Column("conversation_id", sa.String(40), sa.ForeignKey("conversations.id"), primary_key=True),
    sa.Column("rating", sa.Integer, nullable=False),
    sa.Column("comment", sa.Text),
    sa.Column("agent_id", sa.String(40)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("nps", sa.Integer),
    sa.Column("effort", sa.Integer),
    sa.Column("answered_via", sa.String(10), nullable=False, server_default="chat"),  # chat or link
)

# Keys the app makes itself on first use and every node shares (e.g. the one that signs survey links).
app_keys = sa.Table(
    "app_keys", metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


# Who is connected, to which app process (node): shared by every node through the database.
nodes = sa.Table(
    "nodes", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
)

connections = sa.Table(
    "connections", metadata,
    sa.Column("node_id", sa.String(40), primary_key=True),
    sa.Column("sid", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),  # "agent" or "customer"
    sa.Column("subject_id", sa.String(40), nullable=False),  # the agent's id, or the customer's conversation
    sa.Column("availability", sa.String(10)),  # an agent's
    sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("session_hash", sa.String(64)),  # an agent's socket: the sign-in it connected with
    sa.Index("ix_connections_subject", "kind", "subject_id"),
)

# Conversations of external messaging channels (docs/channels.md): the channel's id of the chat
# (a Telegram chat id) for each conversation it started; the newest one is the chat's current case.
channel_links = sa.Table(
    "channel_links", metadata,
    sa.Column("conversation_id", sa.String(40), sa.ForeignKey("conversations.id"), primary_key=True),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("external_id", sa.String(100), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_channel_links_chat", "channel", "external_id"),
)

# -- authorization by need (issue 17, item 5) ---------------------------------------------------------

# Who has held a case (was its agent at some time): those agents may read it later, whatever their queues.
case_holders = sa.Table(
    "case_holders", metadata,
    sa.Column("conversation_id", sa.String(40), sa.ForeignKey("conversations.id"), primary_key=True),
    sa.Column("agent_id", sa.String(40), primary_key=True),
    sa.Column("since", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_case_holders_agent", "agent_id"),
)

# The audit log of staff actions: who (the account, or the command line), what (action and target), when,
# and the details needed; never a customer's text or a secret (docs/security.md, "Authorization by need").
audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor_id", sa.String(40)),  # the account; None for the command line
    sa.Column("actor", sa.String(80), nullable=False),  # its username then, or "cli"
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("target", sa.String(120), nullable=False),  # "case:c_...", "contact:u_...", "agent:a_..."
    sa.Column("details", sa.Text, nullable=False),  # a JSON object
    sa.Index("ix_audit_log_at", "at"),
    sa.Index("ix_audit_log_actor", "actor"),
    sa.Index("ix_audit_log_action", "action"),
    sa.Index("ix_audit_log_target", "target"),
)

# Identity tokens (docs/contacts.md) that have started a conversation, by their jti: a token starts one
# at most. Kept until the token could no longer be accepted anyway (its exp, or identity_max_age_seconds).
used_identity_tokens = sa.Table(
    "used_identity_tokens", metadata,
    sa.Column("token_id", sa.String(200), primary_key=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_used_identity_tokens_expires", "expires_at"),
)
