"""Cases: a customer's conversation from its first message to its survey, and the one owner of its changes.

- ``conversations.py``: `Conversations`, the one owner of every status change and every message posted:
  it stores first, then tells the customer's channel and the agents' rooms.
- ``lifecycle.py``: the statuses and the transitions allowed between them.
- ``routing.py``: queues, agents' skills, the rules that pick a case's queue and priority, SLAs.
- ``channels.py``: the channel port (`Channel`, `Capabilities`, `Channels`) connectors implement; the
  socket channel of the web widget and mobile apps.
- ``rasa_bridge.py``: a customer's text to Rasa's REST channel and the bot's replies back.
- ``bot_side.py``: the bot's side of a conversation (its turn, the typing, its replies stored);
  ``bot_turns.py``: the bot's bounded queue in front of Rasa; ``rasa_health.py``: Rasa's health check;
  ``bot_replies.py``: what the bot says when Rasa cannot (busy, down) (docs/operations.md, "Overload").
- ``arrivals.py``: waiting for a conversation's next messages (the REST API's long-polling).
- ``identity.py``: a host site's signed customer identity; ``customers.py``: the contact a new conversation
  is filed under (earlier conversations, identities, used identity tokens).
- ``masking.py``: personal data masked in free text before it is stored.
- ``views.py``: the JSON shapes of docs/protocol.md, built from store records.
- ``access.py``: who may read a case (its queue's agents, those who held it, supervisors).
- ``audit_trail.py``: staff actions on cases into the audit log (a listener of the case announcements).
- ``resends.py``: what makes a retried send the same message (its ``client_id``, a repeated button press);
  ``pending_turns.py``: the bot turns of customer messages a crash left unanswered, run at start-up
  (docs/operations.md, "Exactly-once delivery"); ``case_articles.py``: the articles a case's bot showed.
"""
