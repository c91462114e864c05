"""State shared between deliveries and processes: claims, turns, caches, counters, budgets and the question
queue, in memory or in Redis.

    base          the Store protocol both implementations keep
    memory        one process: everything in its memory
    redis_store   several processes (Heroku dynos) through REDIS_URL
    redis_budgets daily budgets in Redis: check and reserve in one script, reservations on a lease
    redis_cache   cached threads in Redis, within their own share of maxmemory
    redis_turns   a thread's turns in message order across processes: leases and wake-ups
    thread_locks  the same order within one process
    redis_guard   every Redis call bounded: a short timeout, one deadline per answer, a pause after failure
    deadline      that deadline, shared by the store calls made for one answer
    queue         questions acknowledged to Slack and not yet answered: the protocol, and one process's queue
    redis_queue   the queue of several processes: a Redis Stream with a consumer group

Slack stays the source of truth: a store that loses everything costs time, never correctness.
"""
