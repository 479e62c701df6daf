"""Limits on what one client may ask of a public server (docs/settings.md, "Limits"): the settings table
of rates (`table.py`), the client's address behind trusted proxies (`addresses.py`) and the one limiter
built from both at start-up (`limiter.py`), which counts in memory or, with ``redis_url``, in Redis for
every node at once. It knows only the `limits` library and the error shape; the app factory builds it and
passes it down."""
