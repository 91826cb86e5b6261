"""The Relais services: directory, referral, evaluation, notify, console, and their kit."""
