"""What the app measures, for Prometheus (docs/operations.md, "Metrics and logs"). The bottom of the rooms:
every other room may record into it, and it imports none of them.

- ``series.py``: the series each room records as things happen (bot turns and their latency, decisions,
  hand-overs and resolutions, SLA warnings and breaches, publishes, limit refusals), process-wide;
- ``turns.py``: a bot turn's clock, which splits its time between Rasa and the app's actions;
- ``node.py``: what is read when Prometheus scrapes (queue lengths and oldest waits, connected customers
  and agents, the bot's queue and turns in flight, its busy refusals), and the registry this node serves
  at ``/metrics``.
"""
