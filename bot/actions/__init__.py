"""Custom Rasa actions (knowledge.py): instances holding the index they search, registered by the app's
action server (bot/action_endpoint.py)."""
