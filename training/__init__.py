"""Models, the store-backed dataset and the fit/validate loop."""
