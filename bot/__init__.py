"""A Slack assistant that answers in threads through a chat-completions model."""

__version__ = "0.1.0"
