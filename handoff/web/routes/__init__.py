"""REST endpoints by subject (docs/protocol.md): each module holds one ``routes`` table the app factory adds."""
