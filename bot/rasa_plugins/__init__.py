"""Code that Rasa loads into its own process (Python 3.10, Rasa 3.6), named in bot/endpoints.yml; nothing
of the app imports it."""
