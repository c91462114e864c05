"""One question to one answer.

answerer         a question from its claim to its last word in the thread, one log line each
asking           the model asked, trimmed to its budget, with redaction before and usage after
conversation     a thread as the model's conversation: turns alternating, people named
trimming         the conversation fitted to the input budget, oldest first out
redaction        REDACT: personal data and secrets masked before the model sees them
channel_prompts  a channel's own instructions, from its description
usage            tokens counted per person and channel, and the daily budgets
feedback         👍/👎 under answers, counted per day
"""
