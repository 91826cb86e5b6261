"""Notify service: email, in-app feed, signed webhooks, per-member feeds."""
