"""Benchmarks (`relais bench <part>`).

Convention: each benchmark measures its baseline in the same run, has a `--quick` mode that
finishes within a minute, prints figures side by side with the baseline, and ends with one
summary line of its key figures and their ratio to the baseline.
"""
