"""The service kit: what every Relais service stands on, written once.

settings, database, outbox + relay, inbox, consumer wrapper with retries and DLQ, durable
timers with an injectable clock, JWT verification, health/readiness/metrics endpoints.
"""
