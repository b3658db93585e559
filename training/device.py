"""Which torch device a run uses: ``instrec train``, the ``train-model`` flow and the loop share one rule.

The rule itself (``auto`` / ``cpu`` / ``cuda``) lives in :mod:`core.device`, below every package,
so that feature extraction (VGGish) follows it too without importing ``training``; it is
re-exported here as the training package's name for it.
"""

from __future__ import annotations

from core.device import resolve_device  # re-exported: defined in core.device
from core.errors import DeviceError  # re-exported: defined in core.errors

__all__ = ["DeviceError", "resolve_device"]
