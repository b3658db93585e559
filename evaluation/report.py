"""Writers of ``metrics.json`` and the self-contained ``report.html``.

Key scheme of ``metrics.json`` (flat dotted keys for scores, ``<level><variant>.<metric>``):

* level: ``frame``, ``segment`` (1 s segments), ``clip``, ``dominant``;
* variant: none = the reported decision thresholds (tuned on the validation split, or the
  run's saved ones; see ``thresholds.source``) on raw activations; ``@0.5`` = threshold 0.5;
  ``@micro`` = one threshold for every class, tuned on the validation split to maximise micro F1
  (``thresholds.micro``; the reported per-class thresholds maximise each class's F1, i.e. macro F1);
  ``+smooth`` = median-filtered activations (``smoothing``); ``+smooth@0.5`` = both.

So ``frame.f1_micro`` is the headline figure and ``frame@0.5.f1_micro`` its value at 0.5.
Undefined scores are written as ``null`` (JSON has no NaN) and explained in ``undefined``.
The HTML embeds every figure as a base64 PNG (readable offline, no external assets) and
links the PNG files written beside it.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

VARIANTS = {
    "": "reported thresholds",
    "@0.5": "threshold 0.5",
    "@micro": "one threshold for all classes, tuned for micro F1",
    "+smooth": "reported thresholds, median-filtered",
    "+smooth@0.5": "threshold 0.5, median-filtered",
}
HEADLINE = (
    ("frame", "f1_micro", "Frame F1 (micro)"),
    ("frame", "f1_macro", "Frame F1 (macro)"),
    ("frame", "f1_weighted", "Frame F1 (weighted)"),
    ("frame", "f1_samples", "Frame F1 (samples)"),
    ("frame", "precision_micro", "Frame precision (micro)"),
    ("frame", "recall_micro", "Frame recall (micro)"),
    ("frame", "hamming_loss", "Frame Hamming loss (lower is better)"),
    ("frame", "jaccard_samples", "Frame Jaccard (samples)"),
    ("frame", "map_macro", "Frame mAP (macro)"),
    ("frame", "auc_macro", "Frame ROC-AUC (macro)"),
    ("segment", "f1_micro", "Segment F1 (micro, 1 s)"),
    ("segment", "error_rate", "Segment error rate (lower is better)"),
    ("clip", "f1_pos_macro", "Clip F1, positive class (macro over classes)"),
    ("clip", "f1_posneg_macro", "Clip F1, macro of positive and negative (OpenMIC)"),
    ("dominant", "accuracy", "Dominant-instrument accuracy"),
)
BASELINE_COLUMNS = {
    "baseline": "prior baseline (no audio)",
    "baseline_majority": "majority baseline (no audio)",
    "zero_shot": "zero-shot musicnn MTT tags (classes with a tag)",
}
REASONS = (
    ("map", "no class has a positive known label"),
    ("auc", "no class has both positive and negative known labels"),
    ("rate", "no true active segment (N = 0)"),
    ("accuracy", "no track has a true dominant instrument among the matched classes"),
    ("jaccard", "every frame is silent in truth and in prediction"),
    ("_samples", "every frame is silent in truth and in prediction"),
    ("precision", "nothing was predicted active"),
    ("recall", "nothing is truly active among the known labels"),
    ("f1", "nothing is truly active and nothing was predicted"),
)
IMAGE_CHECK = """<script>
window.addEventListener('load', function () {
  var missing = 0;
  for (var i = 0; i < document.images.length; i++) {
    var img = document.images[i];
    if (!img.complete || img.naturalWidth === 0) { missing++; }
  }
  document.documentElement.setAttribute('data-images', missing === 0 ? 'ok' : 'missing-' + missing);
});
</script>"""
STYLE = """<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1150px;
color:#222;line-height:1.4;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em} h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:right} th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left} tr:nth-child(even) td{background:#fafafa}
.na{color:#999} .meta td{text-align:left} img{max-width:100%;height:auto;border:1px solid #eee}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.4em .8em;margin:.4em 0}
figure{margin:1em 0} figcaption{font-size:.85em;color:#555}
</style>"""


def json_safe(value: Any) -> Any:
    """Numpy scalars and arrays to Python; NaN and Inf to None."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


def undefined_reasons(metrics: Mapping[str, Any]) -> dict[str, str]:
    """For each top-level score that is NaN (or None), why it is undefined."""
    out = {}
    for key, value in metrics.items():
        if "." not in key or not _is_missing(value):
            continue
        metric = key.rsplit(".", 1)[1]
        out[key] = next((why for needle, why in REASONS if needle in metric), "undefined for these data")
    return out


def write_metrics_json(metrics: Mapping[str, Any], path: str | Path) -> Path:
    """Write ``metrics`` as strict JSON (NaN -> null), adding the ``undefined`` explanations."""
    data = dict(metrics)
    data["undefined"] = {**undefined_reasons(metrics), **dict(metrics.get("undefined", {}))}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n")
    return path


def write_report(out: str | Path, metrics: Mapping[str, Any]) -> Path:
    """Write ``metrics.json`` and ``report.html`` into ``out``; return the HTML path.

    ``metrics["figures"]`` maps figure names to PNG paths relative to ``out`` (the per-track
    ones under ``tracks/``); each is embedded in the HTML.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_metrics_json(metrics, out / "metrics.json")
    reasons = {**undefined_reasons(metrics), **dict(metrics.get("undefined", {}))}
    parts = [_header(metrics), _headline(metrics), _notes(metrics, reasons)]
    parts.append(_per_class(metrics, out))
    parts.append(_confusions(metrics, out))
    parts.append(_figure_section("Training history", out, metrics.get("figures", {}).get("history"),
                                 "Loss and validation metrics per epoch, from the run's history."))
    track_figs = metrics.get("figures", {}).get("tracks", {})
    if track_figs:
        parts.append("<h2>Tracks: ground truth vs prediction</h2><p>Green: correct activity. "
                     "Red: false positive. Light red: missed. Grey: label unknown.</p>")
        for track_id, rel in track_figs.items():
            parts.append(embed_png(out, rel, f"Track {track_id}"))
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>instrec evaluation: {_e(metrics.get('run', {}).get('name', ''))}</title>"
        f"{STYLE}{IMAGE_CHECK}</head><body>\n" + "\n".join(p for p in parts if p) + "\n</body></html>\n"
    )
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def format_score(value: Any) -> str:
    """Three decimals, or an em dash for undefined values."""
    if _is_missing(value):
        return "<span class=\"na\">n/a</span>"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    return f"{float(value):.3f}"


def _header(metrics: Mapping[str, Any]) -> str:
    run = metrics.get("run", {})
    store = metrics.get("store", {})
    fs = metrics.get("feature_set", {})
    rows = [
        ("Run", f"{run.get('name', '')} ({run.get('dir', '')})"),
        ("Store", f"{store.get('url', '')} (dataset {store.get('dataset', '?')})"),
        ("Store snapshot", store.get("snapshot_id", "")),
        ("Feature set", f"{fs.get('key', '')} (config hash {fs.get('config_hash', '')})"),
        ("Split", f"{metrics.get('split', '')}: {metrics.get('n_tracks', '?')} tracks, "
                  f"{metrics.get('n_frames', '?')} frames"),
        ("Thresholds", metrics.get("thresholds", {}).get("source", "")),
        ("Smoothing", metrics.get("smoothing", {}).get("description", "none")),
        ("Classes evaluated", ", ".join(metrics.get("classes", []))),
        ("Run classes the store lacks", ", ".join(metrics.get("missing_classes", [])) or "none"),
    ]
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(str(v))}</td></tr>" for k, v in rows)
    return f"<h1>Instrument recognition: evaluation report</h1><table class=\"meta\">{body}</table>"


def _headline(metrics: Mapping[str, Any]) -> str:
    """The headline table: one column per variant, then the baselines (``baseline.<level>.<metric>``)."""
    columns = [(f"{{level}}{v}.{{metric}}", VARIANTS[v]) for v in VARIANTS]
    columns += [(f"{b}.{{level}}.{{metric}}", text) for b, text in BASELINE_COLUMNS.items()]
    columns = [(key, text) for key, text in columns
               if any(key.format(level=lvl, metric=m) in metrics for lvl, m, _ in HEADLINE)]
    head = "".join(f"<th>{_e(text)}</th>" for _, text in columns)
    rows = []
    for level, metric, label in HEADLINE:
        keys = [key.format(level=level, metric=metric) for key, _ in columns]
        if not any(key in metrics for key in keys if not key.startswith(tuple(BASELINE_COLUMNS))):
            continue  # baselines alone do not make a row
        cells = "".join(
            f"<td>{format_score(metrics.get(key))}</td>" if key in metrics else "<td class=\"na\"></td>"
            for key in keys
        )
        rows.append(f"<tr><td>{_e(label)} <code>{level}.{metric}</code></td>{cells}</tr>")
    return f"<h2>Headline scores</h2><table><tr><th>metric</th>{head}</tr>{''.join(rows)}</table>"


def _notes(metrics: Mapping[str, Any], reasons: Mapping[str, str]) -> str:
    items = [f"<div class=\"note\">{_e(n)}</div>" for n in metrics.get("notes", [])]
    if reasons:
        lis = "".join(f"<li><code>{_e(k)}</code>: {_e(v)}</li>" for k, v in sorted(reasons.items()))
        items.append(f"<div class=\"note\">Undefined scores (n/a, <code>null</code> in metrics.json):"
                     f"<ul>{lis}</ul></div>")
    for problem in metrics.get("problems", []):
        items.append(f"<div class=\"note\">Skipped: {_e(str(problem))}</div>")
    return "<h2>Notes</h2>" + "".join(items) if items else ""


def _per_class(metrics: Mapping[str, Any], out: Path) -> str:
    per_class = metrics.get("per_class", {})
    if not per_class:
        return ""
    columns = []
    for row in per_class.values():
        columns.extend(k for k in row if k not in columns)
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    rows = "".join(
        f"<tr><td>{_e(name)}</td>" + "".join(f"<td>{format_score(row.get(c))}</td>" for c in columns) + "</tr>"
        for name, row in per_class.items()
    )
    figure = embed_png(out, metrics.get("figures", {}).get("per_class"),
                  "Per-class precision, recall and F1 at the reported thresholds (n/a: undefined).")
    return (f"<h2>Per class</h2>{figure}<table><tr><th>class</th>{head}</tr>{rows}</table>"
            "<p>Per-class n/a: precision without any prediction, recall and F1 without any positive "
            "(and, for F1, any prediction), AP without positives, AUC without positives or negatives.</p>")


def _confusions(metrics: Mapping[str, Any], out: Path) -> str:
    rows = metrics.get("confusions", [])
    table = "".join(
        f"<tr><td>{_e(r['true'])}</td><td>{_e(r['predicted'])}</td><td>{r['frames']}</td>"
        f"<td>{format_score(r['share_of_misses'])}</td></tr>" for r in rows
    )
    figure = embed_png(out, metrics.get("figures", {}).get("confusion"),
                  "Row: a true instrument in frames where it was missed; column: instruments predicted "
                  "there although absent.")
    if not rows and not figure:
        return ""
    body = (f"<table><tr><th>true (missed)</th><th>predicted instead</th><th>frames</th>"
            f"<th>share of misses</th></tr>{table}</table>" if rows else "<p>No substitutions.</p>")
    return f"<h2>Confusions</h2>{figure}{body}"


def _figure_section(title: str, out: Path, rel: str | None, caption: str) -> str:
    figure = embed_png(out, rel, caption)
    return f"<h2>{_e(title)}</h2>{figure}" if figure else ""


def embed_png(out: Path, rel: str | None, caption: str) -> str:
    """A figure with the PNG ``out/rel`` embedded as a data URI, linked to the file; "" if missing."""
    if not rel or not (out / rel).is_file():
        return ""
    data = base64.b64encode((out / rel).read_bytes()).decode("ascii")
    return (f"<figure><img alt=\"{_e(caption)}\" src=\"data:image/png;base64,{data}\">"
            f"<figcaption>{_e(caption)} <a href=\"{_e(rel)}\">PNG</a></figcaption></figure>")


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, (float, np.floating)) and not math.isfinite(float(value)))


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)
