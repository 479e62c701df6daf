"""Identity tokens that have started a conversation (docs/contacts.md): a mixin of `SqlCaseStore`
(handoff/store/sql.py) on the table `used_identity_tokens`, shared by every node and kept across restarts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from handoff.store.base import Queries, insert_absent
from handoff.store.records import utcnow
from handoff.store.tables import used_identity_tokens


class IdentityTokenQueries(Queries):
    """The used-identity-token methods of `SqlCaseStore`."""

    async def use_identity_token(self, token_id: str, expires_at: datetime) -> bool:
        """Record the token ``token_id`` as used, until ``expires_at``; False when it was used already
        (one statement, so two nodes cannot both use it). Tokens past their time are forgotten here."""
        def write(conn: sa.Connection) -> Any:
            conn.execute(used_identity_tokens.delete().where(used_identity_tokens.c.expires_at < utcnow()))
            return insert_absent(conn, used_identity_tokens, {"token_id": token_id, "expires_at": expires_at})
        return await self._write(write)  # type: ignore[no-any-return]
