"""The store's errors: one line each, naming the store (or file) and what to do."""

from __future__ import annotations

from core.errors import InstrecError


class StoreError(InstrecError):
    """A store is missing, of another schema, or inconsistent with the request."""


class StoreDataError(StoreError):
    """Committed data of a track is missing (a chunk or array lost, a snapshot expired) or cannot be
    decoded (a checksum mismatch): fatal for any reader, never skipped or read as zeros."""


class ManifestError(StoreError):
    """``manifest.json`` (the commit point) is unreadable; ``instrec store verify --repair`` restores it."""
