"""Prometheus metrics shared by the kit (one registry per process: one service per process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter(
    "relais_events_consumed_total", "Events handled by consumers", ["consumer", "type", "outcome"]
)
OUTBOX_PUBLISHED = Counter("relais_outbox_published_total", "Outbox rows published", ["db"])
OUTBOX_LAG = Gauge("relais_outbox_unsent", "Unsent outbox rows seen by the relay", ["db"])
DEAD_LETTERS = Counter("relais_dead_letters_total", "Records sent to a DLQ", ["topic", "reason"])
TIMERS_FIRED = Counter("relais_timers_fired_total", "Durable timers fired", ["kind", "outcome"])
HTTP_LATENCY = Histogram(
    "relais_http_request_seconds", "HTTP request latency", ["method", "route", "status"]
)
