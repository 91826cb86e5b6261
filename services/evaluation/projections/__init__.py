"""Indicators as projections of events: the pure projector, its rollups and the figures."""
