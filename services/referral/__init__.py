"""Referral service: projects, consent, the referral lifecycle, journeys, escalation."""
