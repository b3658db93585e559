"""Several evaluated runs side by side: ``instrec compare REPORT... --out DIR``.

Reads each report's ``metrics.json`` and writes ``compare.json`` (the table), ``compare.csv``,
``compare.png`` (grouped bars) and ``compare.html`` (self-contained, figure embedded).
"""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path
from typing import Any, Sequence

from evaluation.plots import plot_comparison
from evaluation.report import HEADLINE, IMAGE_CHECK, STYLE, embed_png, format_score, json_safe
from pipeline.track import InstrecError

# The model's headline scores next to the prior baseline's (evaluation.baseline) and, where the
# classes have MTT tags, the zero-shot musicnn baseline's (evaluation.zero_shot).
BASELINES = {"baseline": "prior baseline (no audio)", "zero_shot": "zero-shot musicnn MTT tags"}
BASELINE_KEYS = ("baseline.frame.f1_micro", "baseline.frame.f1_macro", "baseline.frame.map_macro",
                 "baseline.segment.f1_micro", "baseline.dominant.accuracy",
                 "zero_shot.frame.f1_micro", "zero_shot.frame.f1_macro", "zero_shot.frame.map_macro",
                 "zero_shot.segment.f1_micro")
CHART_KEYS = ("frame.f1_micro", "baseline.frame.f1_micro", "frame.f1_macro", "frame.map_macro", "segment.f1_micro",
              "clip.f1_posneg_macro", "dominant.accuracy")


class CompareError(InstrecError):
    """A report directory without a readable metrics.json."""


def read_metrics(report: str | Path) -> dict[str, Any]:
    """``metrics.json`` of a report directory (or the file itself)."""
    path = Path(report)
    if path.is_dir():
        path = path / "metrics.json"
    if not path.is_file():
        raise CompareError(f"{path}: no metrics.json; give report directories written by `instrec evaluate`")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CompareError(f"{path}: not valid JSON ({exc}); re-run `instrec evaluate` for it") from exc


def comparison_table(reports: Sequence[str | Path]) -> tuple[list[str], list[dict[str, Any]]]:
    """Column keys and one row per report: name, store, split, feature set, then the headline scores."""
    if not reports:
        raise CompareError("no report given; pass one or more report directories")
    rows, names = [], []
    for report in reports:
        metrics = read_metrics(report)
        base = str(metrics.get("run", {}).get("name") or Path(report).name)
        if base in names or any(n.startswith(base + " [") for n in names):
            base = f"{base} [{metrics.get('split', '?')}]"
        name, k = base, 1
        while name in names:
            k += 1
            name = f"{base} ({k})"
        names.append(name)
        row = {"run": name, "report": str(report), "store": metrics.get("store", {}).get("url"),
               "snapshot_id": metrics.get("snapshot_id"), "split": metrics.get("split"),
               "n_tracks": metrics.get("n_tracks"),
               "features": metrics.get("feature_set", {}).get("key") or metrics.get("run", {}).get("feature_name")}
        for key in _metric_keys():
            if key in metrics:
                row[key] = metrics[key]
        rows.append(row)
    keys = [key for key in _metric_keys() if any(key in r for r in rows)]
    return keys, rows


def _metric_keys() -> list[str]:
    """Headline keys, each followed by its baseline key when there is one."""
    keys = []
    for level, metric, _ in HEADLINE:
        keys.append(f"{level}.{metric}")
        keys += [f"{b}.{level}.{metric}" for b in BASELINES if f"{b}.{level}.{metric}" in BASELINE_KEYS]
    return keys


def _labels() -> dict[str, str]:
    models = {f"{lvl}.{m}": text for lvl, m, text in HEADLINE}
    return models | {f"{b}.{key}": f"{text}, {name}" for b, name in BASELINES.items() for key, text in models.items()}


def compare_reports(reports: Sequence[str | Path], out: str | Path) -> Path:
    """Write the comparison into ``out``; return the HTML path."""
    keys, rows = comparison_table(reports)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(json_safe({"metrics": keys, "runs": rows}), indent=2) + "\n")
    columns = ["run", "store", "split", "n_tracks", "features", *keys]
    with open(out / "compare.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(json_safe(rows))
    chart = [k for k in CHART_KEYS if k in keys]
    if chart:
        plot_comparison([r["run"] for r in rows],
                        {k: [_number(r.get(k)) for r in rows] for k in chart}, path=out / "compare.png")
    labels = _labels()
    head = "".join(f"<th>{_escape(r['run'])}</th>" for r in rows)
    body = "".join(
        f"<tr><td>{_escape(labels.get(c, c))}</td>"
        + "".join(f"<td>{format_score(r.get(c)) if c in keys else _escape(r.get(c, ''))}</td>" for r in rows)
        + "</tr>" for c in columns[1:]
    )
    best = []
    for key in (k for k in keys if k not in BASELINE_KEYS):
        values = [(_number(r.get(key)), r["run"]) for r in rows if r.get(key) is not None]
        if values:
            pick = min(values) if "hamming" in key or "error_rate" in key else max(values)
            best.append(f"<li><code>{_escape(key)}</code>: {_escape(pick[1])} ({pick[0]:.3f})</li>")
    figure = embed_png(out, "compare.png" if chart else None, "Headline scores per run (n/a drawn as 0).")
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>instrec: runs compared"
            f"</title>{STYLE}{IMAGE_CHECK}</head><body><h1>Runs compared</h1>"
            f"<table><tr><th>metric</th>{head}</tr>{body}</table>{figure}<h2>Best per metric</h2><ul>{''.join(best)}</ul>"
            "<p>n/a: undefined for that run (see its report's notes).</p></body></html>\n")
    path = out / "compare.html"
    path.write_text(page, encoding="utf-8")
    return path


def _escape(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)
