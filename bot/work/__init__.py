"""Durable work: every question acknowledged to Slack is recorded first and answered once, by a live process.

    lifecycle  the life of a queued question as one state machine (received → queued → answered)
    job        a question as the queue keeps it: what the answerer needs, and what an earlier attempt left
    intake     records a delivery before Slack is acknowledged, or refuses it so that Slack retries
    consumer   every process's reader of the queue: takes, renews, reclaims, answers, and hands back on SIGTERM

Only with REDIS_URL (the queue is a Redis Stream, bot/store/redis_queue.py); one process without Redis answers
as events arrive (bot/app/listeners.py).
"""
