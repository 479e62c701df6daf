"""Whose a new conversation is: the contact it is filed under, from the earlier conversation the customer's
client names (``earlier_token``) and the host site's signed identity (docs/contacts.md).

- An identity files it under the contact known by its ``sub``. The token is used up: it starts one
  conversation at most (its ``jti``, kept in the store until it expires), so a copied token cannot start
  more conversations as that person, nor merge anything into them.
- An earlier conversation whose contact is anonymous makes the new one the same contact's; with an
  identity, that anonymous contact becomes the known one (given the ``sub``, or merged into its contact).
- An earlier conversation whose contact is known (verified) attaches nothing: holding its token proves
  nothing about who is at the keyboard now (a shared computer). The new conversation stays anonymous or
  follows its own identity.
"""

from __future__ import annotations

import secrets

from handoff.errors import ApiError
from handoff.store.records import Conversation, Identity
from handoff.store.sql import SqlCaseStore


def new_contact_id() -> str:
    return "u_" + secrets.token_hex(8)


async def contact_for(store: SqlCaseStore, earlier: Conversation | None, identity: Identity | None) -> str:
    """The id of the contact a new conversation is filed under (made by the store when new)."""
    anonymous_earlier = earlier.customer_id if earlier is not None and earlier.customer_external_id is None else None
    if identity is None:
        return anonymous_earlier or new_contact_id()
    if identity.token_id is not None and identity.expires_at is not None and not await store.use_identity_token(
            identity.token_id, identity.expires_at):
        raise ApiError("unauthorized", "identity: this token has started a conversation already; the host site "
                                       "signs a new one (a new jti) for each")
    return await _identified(store, identity, anonymous_earlier)


async def _identified(store: SqlCaseStore, identity: Identity, earlier_id: str | None) -> str:
    """The contact of ``identity``: the known one, or the anonymous contact ``earlier_id`` made known
    (merged into the known one when there is one), or (neither) a new one."""
    known = await store.contact_by_external_id(identity.external_id)
    earlier = await store.contact(earlier_id) if earlier_id else None
    if earlier is not None and earlier.external_id is None:
        if known is None:
            await store.update_contact(earlier.id, external_id=identity.external_id)
            return earlier.id
        await store.merge_contacts(earlier.id, known.id, actor="customer")
    return known.id if known else new_contact_id()
