"""Custom Rasa actions. rasa-sdk builds every action with no arguments, so they take their
dependencies from :mod:`bot.actions.context`, which the app fills at start-up."""
