"""What speaks HTTP and socket.io. Handlers validate, call the rooms below, and answer in one error shape.

- ``api.py``: the staff's REST endpoints on cases and the error boundary (middleware) of every route.
- ``boundary.py``: the error boundary of the socket namespaces.
- ``chat.py``: the customers' namespace ``/chat``; ``agent.py``: the agents' namespace ``/agent``.
- ``customer_requests.py``: what a customer sends, validated by the same wire models on every channel.
- ``routes/``: REST endpoints by subject: contacts, editor, publishing, reports, surveys, privacy, audit.
- ``pages.py``, ``widget.py``, ``origins.py``: pages, static files (``static/``: the panel and the
  editors' pages), the widget's configuration and which origins may embed it.
- ``sockets.py``: the socket.io server: reserved event names refused, malformed frames counted in one log line.
- ``headers.py``: the security headers of every answer (nosniff, referrer policy, CSP, HSTS).
- ``keys.py``: the typed keys of the app's state.
"""
