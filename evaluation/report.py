"""Writers of ``metrics.json`` and the self-contained ``report.html``.

Key scheme of ``metrics.json`` (flat dotted keys for scores, ``<level><variant>.<metric>``):

* level: ``frame``, ``segment`` (1 s segments), ``clip``, ``dominant``;
* variant: none = the run's decision rule (each class's median-filter window, then the default
  thresholds; see ``thresholds.source`` and ``smoothing``), exactly what ``instrec predict`` does;
  ``@per-class`` / ``@micro`` / ``@0.5`` = the rule's smoothing with those thresholds (``@micro``:
  one threshold for every class, tuned on validation for micro F1); ``+raw`` = the default
  thresholds on raw, unsmoothed activations; ``+raw@0.5`` = nothing tuned at all.

So ``frame.f1_micro`` is the headline figure and ``frame@0.5.f1_micro`` its value at 0.5.
``dominant.accuracy`` predicts the dominant instrument as the truth defines it, by active time
(``= dominant.accuracy_active_time``); ``dominant.accuracy_summed_probability`` by the largest
summed activation.  Undefined scores are written as ``null`` (JSON has no NaN) and explained in
``undefined`` (per-class ones as ``per_class.<class>.<score>``); ``macro_left_out`` lists, per
macro average, the classes it leaves out and why.  The HTML embeds every figure as a base64 PNG
(readable offline, no external assets), links the PNG files written beside it, flags headline
scores that do not beat the best baseline, and sorts the per-class table by any column (a few
lines of inline script).
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
    "": "the run's decision rule",
    "@0.5": "rule's smoothing, threshold 0.5",
    "@micro": "rule's smoothing, one threshold tuned for micro F1",
    "+raw": "rule's thresholds, no smoothing",
    "+raw@0.5": "no smoothing, threshold 0.5",
}
# Scores where lower is better (a model beats a baseline by being lower).
LOWER_IS_BETTER = ("hamming_loss", "error_rate")
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
    ("dominant", "accuracy", "Dominant-instrument accuracy (predicted by active time, as the truth)"),
    ("dominant", "accuracy_summed_probability", "Dominant-instrument accuracy (predicted by summed activation)"),
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
.note{background:#fff8e1;border-left:4px solid #E69F00;padding:.4em .8em;margin:.4em 0}
figure{margin:1em 0} figcaption{font-size:.85em;color:#555}
td.below-baseline{color:#b23c00;background:#fbe3d6;font-weight:bold}
table.sortable th{cursor:pointer;user-select:none} table.sortable th:hover{background:#e8e8e8}
table.sortable th[aria-sort=ascending]::after{content:" \25B2"} table.sortable th[aria-sort=descending]::after{content:" \25BC"}
</style>"""
# Click a header of a table.sortable to sort its rows by that column (numbers by data-sort value,
# n/a always last); click again to reverse.  Inline, so the report stays one offline file.
SORT_SCRIPT = """<script>
document.addEventListener('DOMContentLoaded', function () {
  document.querySelectorAll('table.sortable').forEach(function (table) {
    var heads = table.querySelectorAll('tr:first-child th');
    heads.forEach(function (th, col) {
      th.addEventListener('click', function () {
        var rows = Array.prototype.slice.call(table.querySelectorAll('tr')).slice(1);
        var down = th.getAttribute('aria-sort') !== 'descending';
        heads.forEach(function (h) { h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', down ? 'descending' : 'ascending');
        function key(row) { var c = row.children[col]; return c ? c.getAttribute('data-sort') : ''; }
        rows.sort(function (a, b) {
          var x = key(a), y = key(b);
          if (x === '' || x === null) { return 1; } if (y === '' || y === null) { return -1; }
          var nx = parseFloat(x), ny = parseFloat(y), r;
          r = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
          return down ? -r : r;
        });
        rows.forEach(function (row) { table.appendChild(row); });
      });
    });
  });
});
</script>"""


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
    parts = [_header(metrics), _headline(metrics), _notes(metrics, reasons), _model(metrics)]
    parts.append(_per_class(metrics, out))
    parts.append(_confusions(metrics, out))
    parts.append(_figure_section("Training history", out, metrics.get("figures", {}).get("history"),
                                 "Loss and validation metrics per epoch, from the run's history."))
    track_figs = metrics.get("figures", {}).get("tracks", {})
    if track_figs:
        parts.append("<h2>Tracks: activations and decisions</h2><p>Top: the activations the decisions were made "
                     "from (after the rule's smoothing; dark = 0, yellow = 1; the truth outlined in white). Bottom: "
                     "blue = correct activity, vermillion = false positive, sky blue = missed, grey = label "
                     "unknown. Colours chosen to stay apart with colour-vision deficiencies.</p>")
        for track_id, rel in track_figs.items():
            parts.append(embed_png(out, rel, f"Track {track_id}"))
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>instrec evaluation: {_e(metrics.get('run', {}).get('name', ''))}</title>"
        f"{STYLE}{IMAGE_CHECK}{SORT_SCRIPT}</head><body>\n" + "\n".join(p for p in parts if p) + "\n</body></html>\n"
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
    rows, flagged = [], 0
    for level, metric, label in HEADLINE:
        keys = [key.format(level=level, metric=metric) for key, _ in columns]
        if not any(key in metrics for key in keys if not key.startswith(tuple(BASELINE_COLUMNS))):
            continue  # baselines alone do not make a row
        best = best_baseline(metrics, level, metric)
        cells = []
        for key in keys:
            if key not in metrics:
                cells.append("<td class=\"na\"></td>")
            elif not key.startswith("baseline") and best is not None and not beats(metrics[key], best, metric):
                flagged += 1
                cells.append(f"<td class=\"below-baseline\" title=\"does not beat the best baseline "
                             f"({best:.3f})\">{format_score(metrics[key])} &#9660;</td>")
            else:
                cells.append(f"<td>{format_score(metrics.get(key))}</td>")
        rows.append(f"<tr><td>{_e(label)} <code>{level}.{metric}</code></td>{''.join(cells)}</tr>")
    legend = (f"<p class=\"below-baseline-legend\"><span class=\"na\">&#9660;</span> {flagged} score(s) in "
              "<b style=\"color:#b23c00\">red</b> do not beat the best baseline (no audio) for that metric: the "
              "model adds nothing there.</p>" if flagged else "")
    return f"<h2>Headline scores</h2><table><tr><th>metric</th>{head}</tr>{''.join(rows)}</table>{legend}"


def best_baseline(metrics: Mapping[str, Any], level: str, metric: str) -> float | None:
    """The best defined baseline value of ``<level>.<metric>`` (lowest for :data:`LOWER_IS_BETTER`), or None."""
    values = [float(metrics[f"{b}.{level}.{metric}"]) for b in BASELINE_COLUMNS
              if not _is_missing(metrics.get(f"{b}.{level}.{metric}"))]
    if not values:
        return None
    return min(values) if metric.endswith(LOWER_IS_BETTER) else max(values)


def beats(value: Any, baseline: float, metric: str) -> bool:
    """Whether a model's score is strictly better than the baseline's (an undefined score is not)."""
    if _is_missing(value):
        return False
    return float(value) < baseline if metric.endswith(LOWER_IS_BETTER) else float(value) > baseline


def _notes(metrics: Mapping[str, Any], reasons: Mapping[str, str]) -> str:
    items = [f"<div class=\"note\">{_e(n)}</div>" for n in metrics.get("notes", [])]
    left_out = metrics.get("macro_left_out", {})
    if left_out:
        lis = "".join(f"<li><code>{_e(k)}</code> averages {v['n_averaged']} classes; left out: "
                      f"{_e(', '.join(v['left_out']))} ({_e(v['why'])})</li>" for k, v in left_out.items())
        items.append(f"<div class=\"note\">Left out of macro averages (their score is undefined):<ul>{lis}</ul></div>")
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
        f"<tr><td data-sort=\"{_e(name)}\">{_e(name)}</td>"
        + "".join(f"<td data-sort=\"{_sort_value(row.get(c))}\">{format_score(row.get(c))}</td>" for c in columns)
        + "</tr>"
        for name, row in per_class.items()
    )
    figure = embed_png(out, metrics.get("figures", {}).get("per_class"),
                  "Per-class precision, recall and F1 with the run's decision rule (n/a: undefined).")
    return (f"<h2>Per class</h2>{figure}<p>Click a column header to sort by it.</p><table class=\"sortable\" "
            f"id=\"per-class\"><tr><th>class</th>{head}</tr>{rows}</table>"
            "<p>Per-class n/a: precision without any prediction, recall and F1 without any positive "
            "(and, for F1, any prediction), AP without positives, AUC without positives or negatives.</p>")


def _sort_value(value: Any) -> str:
    """A cell's sort key: the number itself, or empty for undefined values (sorted last)."""
    if _is_missing(value):
        return ""
    return repr(float(value)) if isinstance(value, (int, float, np.integer, np.floating)) else _e(value)


def _model(metrics: Mapping[str, Any]) -> str:
    """The model section: architecture, epochs, augmentation, training data, data snapshot."""
    model = metrics.get("model")
    if not model:
        return ""
    arch, epochs, data = model.get("architecture", {}), model.get("epochs", {}), model.get("data", {})
    training = model.get("training_data", {})
    options = ", ".join(f"{k}={v}" for k, v in arch.get("options", {}).items()) or "defaults"
    params = arch.get("trainable_parameters")
    best = (f"; best epoch {epochs['best']} ({epochs.get('monitor') or 'score'} {epochs['best_score']:.3f})"
            if epochs.get("best") is not None else "")
    augment = model.get("augmentation", {})
    rows = [
        ("Architecture", f"{arch.get('model') or '?'} ({options})"
                         + (f", {params:,} trainable parameters" if params is not None else "")),
        ("Features", f"{model.get('features', {}).get('name', '?')} ({model.get('features', {}).get('config_hash', '')})"),
        ("Epochs", f"{epochs.get('trained', '?')} trained of at most {epochs.get('maximum', '?')}{best}"),
        ("Augmentation", ", ".join(f"{k}={v}" for k, v in augment.items()) or "none recorded"),
        ("Optimisation", ", ".join(f"{k}={v}" for k, v in model.get("optimisation", {}).items()) or "not recorded"),
        ("Training tracks", ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in training.items()) or "not recorded"),
        ("Trained on", f"{data.get('url', '?')} (dataset {data.get('dataset', '?')}, snapshot "
                       f"{data.get('snapshot_id', '?')})"),
    ]
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(str(v))}</td></tr>" for k, v in rows)
    return f"<h2>Model</h2><table class=\"meta\" id=\"model\">{body}</table>"


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
