"""OpenMIC-2018's released VGGish features (official weights, PCA-whitened, 8-bit quantised).

Each ``vggish/XXX/<sample_key>.json`` holds ``{"time_points": [...], "features": [[...]]}``:
one row of 128 integer codes 0..255 per 0.96 s example, ``time_points`` the example *start*
times (0.0, 0.96, ...).  Example ``i`` is frame ``i`` of the VGGish grid
``FrameGrid(16000, 15360, centered=False)`` (centre ``time_points[i] + 0.48``).  Reading the
file is the caller's job; this module parses its decoded JSON or text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from features.grid import FrameGrid
from features.vggish_weights import EMBEDDING_SIZE, dequantize
from core.errors import DatasetError

EXAMPLE_HOP = 15360  # 0.96 s at 16 kHz
TIME_TOLERANCE_S = 1e-3


@dataclass(frozen=True)
class OpenMICVGGishConfig:
    """The feature set of OpenMIC's released embeddings: imported, never computed from audio.

    Same grid and frame shape as :class:`features.vggish.VGGishConfig` (0.96 s examples,
    ``FrameGrid(16000, 15360, centered=False)``); the parameters say where the values come from.
    """

    name: str = "vggish-openmic"
    sr: int = 16000
    source: str = "OpenMIC-2018 release: vggish/<key[:3]>/<key>.json"
    weights: str = "official"
    postprocess: str = "official PCA whitening + 8-bit quantisation, dequantised to float in [-2, 2]"

    def __post_init__(self) -> None:
        if self.sr != 16000:
            raise ValueError(f"OpenMIC's VGGish features are on a 16 kHz grid, got sr={self.sr}")

    @property
    def grid(self) -> FrameGrid:
        return FrameGrid(sr=self.sr, hop_length=EXAMPLE_HOP, centered=False)

    @property
    def context_samples(self) -> int:
        return 0

    def frame_shape(self) -> tuple[int, ...]:
        return (EMBEDDING_SIZE,)

    def compute(self, y: np.ndarray) -> np.ndarray:
        raise ValueError(
            "vggish-openmic features are imported from the OpenMIC release, not computed from audio: "
            "run `instrec import-openmic-vggish ROOT --store URL` (or extract --features vggish)"
        )


def check_openmic_times(times: np.ndarray, *, name: str = "<openmic vggish json>") -> None:
    """Raise :class:`DatasetError` unless example ``i`` starts at ``0.96 i`` s (the VGGish grid).

    Parameters
    ----------
    times : np.ndarray [shape=(n_examples,)]
        ``time_points`` of the file.
    """
    expected = np.arange(len(times)) * (EXAMPLE_HOP / 16000)
    if len(times) and np.max(np.abs(np.asarray(times) - expected)) > TIME_TOLERANCE_S:
        worst = int(np.argmax(np.abs(np.asarray(times) - expected)))
        raise DatasetError(
            f"{name}: time_points[{worst}] is not {expected[worst]:.2f} s (examples every 0.96 s from 0); "
            "the file is not on the VGGish grid: re-download it"
        )


def parse_openmic_vggish(
    document: str | bytes | dict[str, Any], *, name: str = "<openmic vggish json>"
) -> tuple[np.ndarray, np.ndarray]:
    """Parse one OpenMIC VGGish JSON document.

    Parameters
    ----------
    document : str, bytes or dict
        The file's text, or its decoded JSON.
    name : str
        The file's name, for error messages.

    Returns
    -------
    codes : np.ndarray [shape=(n_examples, 128), dtype=uint8]
    times : np.ndarray [shape=(n_examples,), dtype=float64]
        Example start times in seconds.

    Raises
    ------
    DatasetError
        Not JSON, missing keys, wrong shape, codes outside 0..255 or unsorted times.
    """
    # Messages name the file, the place and what was expected, never the file's content.
    if isinstance(document, (str, bytes)):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{name}: not valid JSON at line {exc.lineno}, column {exc.colno}; "
                               "expected an OpenMIC vggish/*.json file") from exc
        except UnicodeDecodeError as exc:
            raise DatasetError(f"{name}: not UTF-8 text (byte {exc.start}); expected an OpenMIC vggish/*.json file"
                               ) from exc
    if not isinstance(document, dict):
        raise DatasetError(f"{name}: expected keys 'time_points' and 'features' in a JSON object, "
                           f"found a {type(document).__name__}")
    missing = [key for key in ("time_points", "features") if key not in document]
    if missing:
        raise DatasetError(f"{name}: expected keys 'time_points' and 'features', missing {', '.join(map(repr, missing))}")
    try:
        features = np.asarray(document["features"], dtype=np.int64)
        times = np.asarray(document["time_points"], dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise DatasetError(f"{name}: 'features' must be rows of integers and 'time_points' numbers") from exc
    if features.ndim != 2 or features.shape[1] != EMBEDDING_SIZE or times.shape != (features.shape[0],):
        raise DatasetError(
            f"{name}: expected 'features' of shape (n, 128) and n 'time_points', got "
            f"{features.shape} and {times.shape}"
        )
    if features.size and (features.min() < 0 or features.max() > 255):
        raise DatasetError(f"{name}: codes must lie in 0..255; some do not")
    if np.any(np.diff(times) <= 0):
        raise DatasetError(f"{name}: 'time_points' must increase")
    return features.astype(np.uint8), times


def openmic_vggish_features(
    document: str | bytes | dict[str, Any], *, name: str = "<openmic vggish json>"
) -> tuple[np.ndarray, np.ndarray]:
    """Dequantised embeddings ``(n_examples, 128)`` float32 in [-2, 2] and start times."""
    codes, times = parse_openmic_vggish(document, name=name)
    return dequantize(codes), times
