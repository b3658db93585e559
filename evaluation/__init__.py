"""Metrics, thresholds, plots and report writers."""
