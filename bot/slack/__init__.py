"""Slack's Web API without Bolt and without the model.

errors     what a Slack call can fail with, and one name for each failure
client     the SDK's client: one session, retries that never show anything twice
messages   Slack's markup read without Slack: the bot's identity, a thread's messages and files, DMs
thread     a thread read (cached, paged) and people's names
reply      the reply's state machine: nothing posted → streaming / updating → closed
live       paces a growing answer into the reply
status     the thinking status and reactions, decoration that never holds an answer up
rendering  Markdown → Slack's mrkdwn, a long answer split where it reads well, and tool calls' task cards
access     who may read a conversation, and what may be carried into it
people     who is a full member or a guest, cached for the access rule
answered   the metadata that marks an answer with the question it answers
"""
