"""The store's errors: one line each, naming the store (or file) and what to do."""

from __future__ import annotations

from core.errors import ManifestError, StoreDataError, StoreError  # re-exported: defined in core.errors
