"""One question to one answer.

answerer         a question from its claim to its last word in the thread, one log line each
asking           the model asked, trimmed to its budget, with redaction before and usage after
tool_loop        the model's tool calls run and answered, round after round, within MAX_TOOL_STEPS
addressing       whether a message without a mention is meant for the bot: a rule, no model or Slack call
following        the channel threads the bot follows, mutes, and the buttons under an answer
conversation     a thread as the model's conversation: turns alternating, people named
trimming         the conversation fitted to the input budget, oldest first out
redaction        REDACT: personal data and secrets masked before the model sees them
channel_prompts  a channel's own instructions, from its description
usage            tokens counted per person and channel, and the daily budgets
feedback         👍/👎 under answers, counted per day
"""
