"""The chats of external messaging channels (docs/channels.md): a mixin of `SqlCaseStore`
(handoff/store/sql.py) on the table `channel_links`."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from handoff.store.base import Queries
from handoff.store.records import utcnow
from handoff.store.tables import channel_links


class ChannelLinkQueries(Queries):
    """The channel-link methods of `SqlCaseStore`."""

    async def link_chat(self, channel: str, external_id: str, conversation_id: str) -> None:
        """The conversation was started from the channel's chat ``external_id``; it is the chat's case now."""
        now = utcnow()
        def write(conn: sa.Connection) -> Any:
            conn.execute(channel_links.insert().values(conversation_id=conversation_id, channel=channel,
                                                       external_id=external_id, created_at=now))
        await self._write(write)

    async def chat_conversation(self, channel: str, external_id: str) -> str | None:
        """The id of the newest conversation started from the chat, if any."""
        query = (sa.select(channel_links.c.conversation_id)
                 .where(channel_links.c.channel == channel, channel_links.c.external_id == external_id)
                 .order_by(channel_links.c.created_at.desc()).limit(1))
        async with self._engine.connect() as conn:
            return (await conn.execute(query)).scalar()

    async def conversation_chat(self, conversation_id: str) -> str | None:
        """The channel's id of the chat that started the conversation, if a channel did."""
        query = sa.select(channel_links.c.external_id).where(channel_links.c.conversation_id == conversation_id)
        async with self._engine.connect() as conn:
            return (await conn.execute(query)).scalar()
