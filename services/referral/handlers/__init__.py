"""Referral use cases; each takes its session and collaborators (`Deps`) as arguments."""
