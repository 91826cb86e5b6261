"""Logging: one line per business event at INFO; Kafka chatter stays at WARNING."""

from __future__ import annotations

import logging

_QUIET = ("aiokafka", "faststream", "httpx", "uvicorn.access", "sqlalchemy.engine")


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
