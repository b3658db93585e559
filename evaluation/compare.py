"""Several evaluated runs side by side: ``instrec compare REPORT... --out DIR``.

Reads each report's ``metrics.json`` and writes ``compare.json`` (the headline table and the
per-class F1 of every run), ``compare.csv``, ``compare_per_class.csv``, ``compare.png``
(grouped bars) and ``compare.html`` (self-contained, figure embedded, each run linked to its
own report).  The best run of each metric is named; runs whose scores agree to the three
decimals the page shows are a tie, and are named together as one.
"""

from __future__ import annotations

import csv
import html
import json
import os
from pathlib import Path
from typing import Any, Sequence

from core.errors import CompareError  # re-exported: defined in core.errors
from evaluation.plots import plot_comparison
from evaluation.report import HEADLINE, IMAGE_CHECK, SORT_SCRIPT, STYLE, embed_png, format_score, json_safe

# The model's headline scores next to the prior baseline's (evaluation.baseline) and, where the
# classes have MTT tags, the zero-shot musicnn baseline's (evaluation.zero_shot).
BASELINES = {"baseline": "prior baseline (no audio)", "zero_shot": "zero-shot musicnn MTT tags"}
BASELINE_KEYS = ("baseline.frame.f1_micro", "baseline.frame.f1_macro", "baseline.frame.map_macro",
                 "baseline.segment.f1_micro", "baseline.dominant.accuracy",
                 "zero_shot.frame.f1_micro", "zero_shot.frame.f1_macro", "zero_shot.frame.map_macro",
                 "zero_shot.segment.f1_micro")
CHART_KEYS = ("frame.f1_micro", "baseline.frame.f1_micro", "frame.f1_macro", "frame.map_macro", "segment.f1_micro",
              "clip.f1_posneg_macro", "dominant.accuracy")


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
               "features": metrics.get("feature_set", {}).get("key") or metrics.get("run", {}).get("feature_name"),
               "per_class_f1": {c: r.get("f1") for c, r in (metrics.get("per_class") or {}).items()}}
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


def best_runs(values: Sequence[tuple[float | None, str]], *, lower_is_better: bool = False
              ) -> tuple[float, list[str]] | None:
    """The best value (to 3 decimals, as shown) and every run that has it; None when no run has a value."""
    shown = [(round(v, 3), name) for v, name in values if v is not None and v == v]
    if not shown:
        return None
    best = min(v for v, _ in shown) if lower_is_better else max(v for v, _ in shown)
    return best, [name for v, name in shown if v == best]


def _best_text(found: tuple[float, list[str]] | None) -> str:
    if found is None:
        return "n/a"
    value, names = found
    if len(names) > 1:
        return f"tie between {', '.join(names)} ({value:.3f})"
    return f"{names[0]} ({value:.3f})"


def per_class_table(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Class -> run -> frame F1 (None where the run's report lacks the class or the score is undefined)."""
    classes: list[str] = []
    for row in rows:
        classes += [c for c in row["per_class_f1"] if c not in classes]
    return {c: {row["run"]: row["per_class_f1"].get(c) for row in rows} for c in classes}


def compare_reports(reports: Sequence[str | Path], out: str | Path) -> Path:
    """Write the comparison into ``out``; return the HTML path."""
    keys, rows = comparison_table(reports)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    per_class = per_class_table(rows)
    (out / "compare.json").write_text(json.dumps(json_safe(
        {"metrics": keys, "runs": [{k: v for k, v in r.items() if k != "per_class_f1"} for r in rows],
         "per_class_f1": per_class}), indent=2) + "\n")
    with open(out / "compare_per_class.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["class", *(r["run"] for r in rows)])
        writer.writerows([c, *("" if v is None else v for v in by_run.values())] for c, by_run in per_class.items())
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
    head = "".join(f"<th>{_report_link(r, out)}</th>" for r in rows)
    body = "".join(
        f"<tr><td>{_escape(labels.get(c, c))}</td>"
        + "".join(f"<td>{format_score(r.get(c)) if c in keys else _escape(r.get(c, ''))}</td>" for r in rows)
        + "</tr>" for c in columns[1:]
    )
    best = []
    for key in (k for k in keys if k not in BASELINE_KEYS):
        found = best_runs([(r.get(key), r["run"]) for r in rows],
                          lower_is_better="hamming" in key or "error_rate" in key)
        if found is not None:
            best.append(f"<li><code>{_escape(key)}</code>: {_escape(_best_text(found))}</li>")
    figure = embed_png(out, "compare.png" if chart else None, "Headline scores per run (n/a drawn as 0).")
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>instrec: runs compared"
            f"</title>{STYLE}{IMAGE_CHECK}{SORT_SCRIPT}</head><body><h1>Runs compared</h1>"
            "<p>Each run's name links to its own report.</p>"
            f"<table><tr><th>metric</th>{head}</tr>{body}</table>{figure}<h2>Best per metric</h2><ul>{''.join(best)}</ul>"
            f"{_per_class_section(per_class, rows)}"
            "<p>n/a: undefined for that run (see its report's notes). Scores equal to three decimals are a tie."
            "</p></body></html>\n")
    path = out / "compare.html"
    path.write_text(page, encoding="utf-8")
    return path


def _report_link(row: dict[str, Any], out: Path) -> str:
    """The run's name, linked to its report.html (relative to the comparison, so the folder can move)."""
    report = Path(row["report"])
    report = report.parent if report.name == "metrics.json" else report
    href = os.path.relpath(report.resolve() / "report.html", out.resolve())
    return f"<a href=\"{_escape(Path(href).as_posix())}\">{_escape(row['run'])}</a>"


def _per_class_section(per_class: dict[str, dict[str, float | None]], rows: Sequence[dict[str, Any]]) -> str:
    """Per-class frame F1 of every run; the best of each class in bold (all of them on a tie)."""
    if not per_class:
        return ""
    head = "".join(f"<th>{_escape(r['run'])}</th>" for r in rows)
    body = []
    for name, by_run in per_class.items():
        found = best_runs([(v, run) for run, v in by_run.items()])
        winners = set(found[1]) if found else set()
        tie = len(winners) > 1
        cells = "".join(
            f"<td data-sort=\"{'' if v is None else v}\">"
            + (f"<b>{format_score(v)}</b>{' (tie)' if tie else ''}" if run in winners else format_score(v)) + "</td>"
            for run, v in by_run.items())
        body.append(f"<tr><td data-sort=\"{_escape(name)}\">{_escape(name)}</td>{cells}</tr>")
    return (f"<h2>Per class (frame F1)</h2><p>Best run per class in bold; click a header to sort.</p>"
            f"<table class=\"sortable\" id=\"per-class-compare\"><tr><th>class</th>{head}</tr>{''.join(body)}</table>")


def _escape(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)
