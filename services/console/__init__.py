"""Operator console and public orientation page (comes with its own issue)."""
