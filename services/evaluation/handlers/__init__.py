"""Evaluation use cases: the live projection, the rebuild, the indicators and the reports."""
