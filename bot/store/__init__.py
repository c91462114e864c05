"""State shared between deliveries and processes: claims, turns, caches and counters, in memory or in Redis."""
