"""Test harness: find (or start) the Kafka broker and PostgreSQL the suite runs against.

`plans` decides *what* to use without starting anything (cheap enough for the report
header); `postgres` runs a throwaway local cluster. The fixtures live in tests/conftest.py.
"""
