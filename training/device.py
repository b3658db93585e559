"""Which torch device a run uses: the one rule for ``instrec train``, the ``train-model`` flow and the loop.

* ``auto``: CUDA when torch sees a CUDA device, else the CPU, with a warning (slower, same results);
* ``cuda``: CUDA, or :class:`DeviceError` (one line) when torch sees none: a run that asked for a
  GPU never trains on the CPU by surprise;
* ``cpu``: the CPU.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from core.errors import DeviceError  # re-exported: defined in core.errors
from training.choices import DEVICES

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


def resolve_device(name: str) -> "torch.device":
    """The device ``name`` (one of :data:`DEVICES`) stands for on this machine.

    Raises
    ------
    DeviceError
        ``cuda`` without a CUDA device, or an unknown name.
    """
    import torch

    if name not in DEVICES:
        raise DeviceError(f"unknown device {name!r}; choose one of {', '.join(DEVICES)}")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        log.warning("no CUDA device found: training on the CPU (slower, same results; device cpu silences this)")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("device cuda was requested but torch sees no CUDA device on this machine; install the "
                          "CUDA build of torch, or use device cpu (auto falls back to the CPU with a warning)")
    return torch.device(name)
