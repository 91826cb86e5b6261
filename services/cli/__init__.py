"""The `relais` command line (entry point: services.cli.main:app)."""
