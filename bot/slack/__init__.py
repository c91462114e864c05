"""Slack's Web API without Bolt and without the model: messages, threads, the reply, its status and access."""
