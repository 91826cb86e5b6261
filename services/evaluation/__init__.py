"""Evaluation service: indicators, the common evaluation grid, self-diagnosis, reports."""
