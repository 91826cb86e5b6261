"""Notify's webhooks to partner systems: subscriptions, signed deliveries, retries, the log.

`part.build_webhooks_part` assembles them; see docs/services/notify.md.
"""
