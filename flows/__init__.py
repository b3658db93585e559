"""Prefect flows: thin wrappers over the library."""
