"""Event and command payloads, one module per producing service."""
