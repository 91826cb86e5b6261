"""Referral HTTP API: parse -> handler -> response."""

from services.referral.api import gdpr, projects, public, referrals

ROUTERS = [projects.router, referrals.router, public.router, gdpr.router]
