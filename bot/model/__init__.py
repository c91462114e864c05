"""The chat-completions service: requests, streamed answers, the wire under them and their errors; no Slack."""
