"""Figures of an evaluation, drawn headless with matplotlib's Agg canvas.

Every function takes arrays and an output ``path`` and writes one PNG; none touches pyplot's
global state, so they are safe in worker processes without a display.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator

# Colours readable with every common colour-vision deficiency: the Okabe-Ito palette (Okabe & Ito
# 2008, "Color Universal Design"); tests/evaluation/test_eval_plots.py checks the outcome colours stay
# apart under simulated protanopia, deuteranopia and tritanopia (Machado et al. 2009).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
# Piano-roll outcome codes and colours: hits blue, false positives vermillion, misses sky blue.
OUTCOME_COLOURS = {
    "silent (correct)": "#ffffff",
    "correct": "#0072B2",
    "false positive": "#D55E00",
    "missed": "#56B4E9",
    "unknown label": "#bbbbbb",
}
# Sequential colour map of activations: cividis is designed to read the same with colour-vision deficiency.
ACTIVATION_CMAP = "cividis"
DPI = 100


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, facecolor="white")
    return path


def plot_per_class(
    classes: Sequence[str],
    scores: Mapping[str, Sequence[float]],
    *,
    path: str | Path,
    title: str = "Per-class scores",
) -> Path:
    """Horizontal grouped bars of per-class scores (e.g. precision, recall, F1).

    One row per class, so any number of classes stays legible; undefined (NaN) scores are
    labelled n/a instead of drawn as 0.
    """
    n = len(classes)
    k_scores = max(1, len(scores))
    fig = _new_figure(8.0, max(2.5, 0.22 * n * k_scores + 1.2))
    ax = fig.add_subplot()
    height = 0.8 / k_scores
    y = np.arange(n)
    for k, (name, values) in enumerate(scores.items()):
        values = np.asarray(values, dtype=float)
        pos = y - 0.4 + height * (k + 0.5)
        ax.barh(pos, np.nan_to_num(values, nan=0.0), height=height, label=name, color=PALETTE[k % len(PALETTE)])
        for p, v in zip(pos, values):
            if np.isnan(v):
                ax.text(0.005, p, f"{name} n/a", ha="left", va="center", fontsize=6, color="#666")
    ax.set_yticks(y, list(classes), fontsize=8)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xlim(0, 1.0)
    ax.set_xlabel("score")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower left", bbox_to_anchor=(1.0, 0.0), fontsize=8)
    return _save(fig, path)


def plot_confusion(
    matrix: np.ndarray, missed: np.ndarray, classes: Sequence[str], *, path: str | Path
) -> Path:
    """Heatmap of substitutions: row = missed true class, column = false positive in its place.

    Colour is the share of the row's misses; cells show frame counts.
    """
    matrix = np.asarray(matrix, dtype=float)
    missed = np.asarray(missed, dtype=float)
    share = np.divide(matrix, missed[:, None], out=np.zeros_like(matrix), where=missed[:, None] > 0)
    n = len(classes)
    size = max(4.5, 0.5 * n + 2.5)
    fig = _new_figure(size + 1.0, size)
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Reds", vmin=0, vmax=max(1e-9, share.max() or 1.0))
    ax.set_xticks(range(n), list(classes), rotation=45, ha="right")
    ax.set_yticks(range(n), [f"{c} ({int(m)} missed)" for c, m in zip(classes, missed)])
    ax.set_xlabel("predicted instead (false positive in the same frame)")
    ax.set_ylabel("true instrument, missed")
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if matrix[i, j] > 0:
                    colour = "white" if share[i, j] > 0.6 * share.max() else "black"
                    ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=7, color=colour)
    fig.colorbar(image, ax=ax, label="share of the true class's missed frames")
    ax.set_title("Predicted in place of missed instruments", fontsize=10)
    return _save(fig, path)


def plot_history(history: Sequence[Mapping[str, object]], *, path: str | Path) -> Path | None:
    """Loss curves (left) and other numeric per-epoch metrics (right); None without history."""
    rows = [row for row in history if isinstance(row, Mapping)]
    if not rows:
        return None
    epochs = [row.get("epoch", i + 1) for i, row in enumerate(rows)]
    keys = sorted({k for row in rows for k, v in row.items() if k != "epoch" and _is_number(v)})
    loss_keys = [k for k in keys if "loss" in k]
    other_keys = [k for k in keys if "loss" not in k and k not in ("lr", "score") and not _is_rate_or_time(k)]
    if not loss_keys and not other_keys:
        return None
    fig = _new_figure(10.0, 3.8)
    for slot, (group, label) in enumerate(((loss_keys, "loss"), (other_keys, "metric"))):
        ax = fig.add_subplot(1, 2, slot + 1)
        for key in group:
            values = [float(row[key]) if _is_number(row.get(key)) else np.nan for row in rows]
            ax.plot(epochs, values, marker="o", markersize=3, label=key,
                color=PALETTE[group.index(key) % len(PALETTE)])
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.set_title("Loss" if slot == 0 else "Validation metrics")
        ax.grid(alpha=0.3)
        if group:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "none recorded", ha="center", va="center", transform=ax.transAxes)
    return _save(fig, path)


def outcome_codes(y_true: np.ndarray, y_pred: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Per (frame, class): 0 silent-correct, 1 correct, 2 false positive, 3 missed, 4 unknown."""
    y_true = np.asarray(y_true).astype(bool)
    y_pred = np.asarray(y_pred).astype(bool)
    codes = np.zeros(y_true.shape, dtype=np.int8)
    codes[y_true & y_pred] = 1
    codes[~y_true & y_pred] = 2
    codes[y_true & ~y_pred] = 3
    if mask is not None:
        codes[~np.asarray(mask, dtype=bool)] = 4
    return codes


def piano_roll_figure(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: Sequence[str],
    *,
    hop_s: float,
    first_centre: float = 0.0,
    mask: np.ndarray | None = None,
    scores: np.ndarray | None = None,
    thresholds: np.ndarray | None = None,
    title: str = "",
) -> Figure:
    """Ground truth vs prediction over time, one row per class; above it, with ``scores``, the
    activations the decisions came from.

    Parameters
    ----------
    y_true, y_pred : np.ndarray [shape=(n_frames, n_classes)]
    scores : np.ndarray [shape=(n_frames, n_classes)] or None
        Activations (probabilities) as thresholded, drawn with :data:`ACTIVATION_CMAP`; frames
        where the truth is active are outlined.
    thresholds : np.ndarray [shape=(n_classes,)] or None
        Written next to each class's name in the activation panel.

    Outcomes: correct activity blue, false positives vermillion, misses sky blue, unknown
    labels grey (:data:`OUTCOME_COLOURS`).
    """
    codes = outcome_codes(y_true, y_pred, mask)
    n_frames, n = codes.shape
    panels = 2 if scores is not None else 1
    fig = _new_figure(11.0, max(2.2, 0.32 * n + 1.4) * (1.0 if panels == 1 else 1.8))
    axes = fig.subplots(panels, 1, squeeze=False, sharex=True)[:, 0]
    start = first_centre - hop_s / 2
    extent = (start, start + n_frames * hop_s, n - 0.5, -0.5)
    if scores is not None:
        ax = axes[0]
        image = ax.imshow(np.asarray(scores, dtype=float).T, aspect="auto", interpolation="nearest",
                          cmap=ACTIVATION_CMAP, vmin=0.0, vmax=1.0, extent=extent)
        truth = np.asarray(y_true, dtype=float).T
        if truth.any():
            xs = start + (np.arange(n_frames) + 0.5) * hop_s
            ax.contour(xs, np.arange(n), truth, levels=[0.5], colors="#ffffff", linewidths=0.8)
        names = list(classes) if thresholds is None else [f"{c} ({t:.2f})" for c, t in zip(classes, thresholds)]
        ax.set_yticks(range(n), names, fontsize=8)
        ax.set_title(f"{title}\nactivation (white outline: truth; threshold in brackets)" if title else
                     "activation (white outline: truth)", fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.025, pad=0.01, label="activation")
    ax = axes[-1]
    cmap = ListedColormap(list(OUTCOME_COLOURS.values()))
    ax.imshow(codes.T, aspect="auto", interpolation="nearest", cmap=cmap, vmin=-0.5, vmax=4.5, extent=extent)
    ax.set_yticks(range(n), list(classes), fontsize=8)
    for row in range(n + 1):
        ax.axhline(row - 0.5, color="#e0e0e0", linewidth=0.5)
    ax.set_xlabel("time (s)")
    ax.set_title("decisions" if scores is not None else title, fontsize=9 if scores is not None else None)
    used = set(np.unique(codes).tolist()) | {1, 2, 3}
    handles = [Patch(facecolor=c, edgecolor="#888", label=name)
               for k, (name, c) in enumerate(OUTCOME_COLOURS.items()) if k in used and k != 0]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return fig


def plot_piano_roll(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str], *, path: str | Path,
                    **options) -> Path:
    """:func:`piano_roll_figure` written to ``path``."""
    return _save(piano_roll_figure(y_true, y_pred, classes, **options), path)


def plot_timeline(
    panels: Sequence[Mapping[str, object]],
    *,
    duration: float,
    title: str,
    path: str | Path,
) -> Path:
    """Activations of one song, one panel per run, with the detected segments outlined.

    Each panel is a mapping with ``name``, ``classes``, ``scores`` ``(n_frames, n_classes)``,
    ``hop_s``, ``first_centre`` and ``segments`` (dicts with instrument, start, end).
    """
    n_rows = sum(len(p["classes"]) for p in panels)
    fig = _new_figure(11.0, max(2.5, 0.3 * n_rows + 1.3 * len(panels)))
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    image = None
    for ax, panel in zip(axes, panels):
        classes = list(panel["classes"])
        scores = np.asarray(panel["scores"])
        hop_s = float(panel["hop_s"])
        start = float(panel["first_centre"]) - hop_s / 2
        extent = (start, start + scores.shape[0] * hop_s, len(classes) - 0.5, -0.5)
        image = ax.imshow(scores.T, aspect="auto", interpolation="nearest", cmap=ACTIVATION_CMAP,
                          vmin=0, vmax=1, extent=extent)
        row_of = {c: i for i, c in enumerate(classes)}
        for seg in panel["segments"]:
            i = row_of[seg["instrument"]]
            ax.add_patch(_segment_box(seg["start"], seg["end"], i))
        ax.set_yticks(range(len(classes)), classes, fontsize=8)
        ax.set_xlim(0, max(duration, extent[1]))
        ax.set_title(str(panel["name"]), fontsize=9, loc="left")
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(title)
    if image is not None:
        fig.colorbar(image, ax=list(axes), fraction=0.025, pad=0.01, label="activation (box: detected segment)")
    return _save(fig, path)


def plot_comparison(
    names: Sequence[str], values: Mapping[str, Sequence[float]], *, path: str | Path
) -> Path:
    """Grouped bars: one group per metric, one bar per run."""
    metrics = list(values)
    fig = _new_figure(max(6.0, 1.2 * len(metrics) + 3), 4.2)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(names))
    x = np.arange(len(metrics))
    for k, name in enumerate(names):
        heights = [values[m][k] for m in metrics]
        ax.bar(x - 0.4 + width * (k + 0.5), np.nan_to_num(np.asarray(heights, float)), width=width, label=name,
               color=PALETTE[k % len(PALETTE)])
    ax.set_xticks(x, metrics, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.set_title("Runs compared")
    return _save(fig, path)


def _segment_box(start: float, end: float, row: int) -> Rectangle:
    return Rectangle((start, row - 0.42), end - start, 0.84, fill=False, edgecolor=PALETTE[3], linewidth=1.4)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _is_rate_or_time(key: str) -> bool:
    """Throughput and timing columns of a history, which are not scores."""
    return key.endswith(("_per_s", "_s", "seconds")) or "time" in key
