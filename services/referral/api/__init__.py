"""Referral HTTP API: parse -> handler -> response."""

from services.referral.api import projects, referrals

ROUTERS = [projects.router, referrals.router]
