"""Which torch device a job uses: the one rule for ``instrec train``, the flows, the loop and VGGish.

* ``auto``: CUDA when torch sees a CUDA device, else the CPU (slower, same results), with a
  warning naming the job unless the caller falls back silently;
* ``cuda``: CUDA, or :class:`DeviceError` (one line) when torch sees none: a job that asked for a
  GPU never runs on the CPU by surprise;
* ``cpu``: the CPU.

Light at import time (torch is imported when a device is resolved), so the command line's
option choices can come from :data:`DEVICES`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from core.errors import DeviceError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda")
"""``auto`` uses CUDA when available, else the CPU."""

log = logging.getLogger(__name__)


def resolve_device(name: str, *, job: str | None = "training") -> "torch.device":
    """The device ``name`` (one of :data:`DEVICES`) stands for on this machine.

    Parameters
    ----------
    name : {"auto", "cpu", "cuda"}
    job : str or None
        What runs on the device, named in the warning when ``auto`` falls back to the CPU
        (``"training"``: "no CUDA device found: training on the CPU ..."); None falls back silently.

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
        if job is not None:
            log.warning(f"no CUDA device found: {job} on the CPU (slower, same results; device cpu silences this)")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("device cuda was requested but torch sees no CUDA device on this machine; install the "
                          "CUDA build of torch, or use device cpu (auto falls back to the CPU with a warning)")
    return torch.device(name)
