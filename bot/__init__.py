"""The Rasa bot: domain and endpoints (Rasa's files), our custom actions, and running Rasa."""
