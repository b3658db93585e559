"""Gather the steps of ``benchmarks/gpu_suite.sh`` into one JSON and one Markdown table.

    python benchmarks/gpu_suite_report.py DIR [--device cuda] [--quick 0] [--elapsed S]

Reads ``DIR/steps/NAME.status`` (exit status, seconds, timeout), ``NAME.json`` (the step's
figures) and ``NAME.log`` (its last lines, kept for steps without figures); writes
``DIR/gpu_suite.json`` and ``DIR/gpu_suite.md`` and prints the table.  Exits 1 when a step has
no figures (failed, timed out or skipped), else 0; targets are judged in the table, not here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

STEPS = ("logmel_torch", "cwt_torch", "vggish", "all_features", "training", "remix", "model")
# issue 16's targets on the GPU box, by step and figure
TARGETS = {
    ("all_features", "all_warm.realtime"): ">= 5000",
    ("all_features", "all_vs_plain_loop"): ">= 50",
    ("all_features", "memory_10min_song.self_peak_mib"): "< 1430",
    ("cwt_torch", "multirate_batch_realtime"): ">= 50000",
    ("training", "store_vs_memory"): ">= 0.8",
    ("remix", "training_remix=0.5_vs_plain"): ">= 0.7",
}
# keys that say how a step ran rather than what it measured: shown in the "setup" column
SETUP = ("device", "precision", "batch", "clip_seconds", "audio_s", "songs", "seconds", "workers", "steps", "rounds",
         "machine", "target")


def flatten(figures: dict, prefix: str = "") -> dict:
    """``{"all": {"realtime": 3}}`` -> ``{"all.realtime": 3}``."""
    flat = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def machine(device: str) -> dict:
    info = {"platform": f"{platform.machine()}, {os.cpu_count()} cores", "python": platform.python_version()}
    try:
        import torch

        info["torch"] = torch.__version__
        if device == "cuda" and torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
            info["cuda"] = torch.version.cuda
    except ImportError:
        pass
    return info


def read_step(folder: Path, name: str) -> dict | None:
    status_file = folder / f"{name}.status"
    if not status_file.exists():
        return None
    step = json.loads(status_file.read_text())
    rc = step.get("rc")
    step["status"] = ("skipped" if rc is None else "ok" if rc == 0 else "timed out" if rc in (124, 137)
                      else f"exit {rc}")
    figures = folder / f"{name}.json"
    step["figures"] = json.loads(figures.read_text()) if figures.exists() else None
    log = folder / f"{name}.log"
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    step["log_tail"] = lines[-15:] if rc != 0 or step["figures"] is None else lines[-3:]
    return step


def markdown(report: dict) -> str:
    m = report["machine"]
    head = (f"GPU suite on {m.get('gpu', 'no GPU')} ({m['platform']}, torch {m.get('torch', '?')}), "
            f"device {report['device']}{', quick sizes (a dry run, not figures)' if report['quick'] else ''}; "
            f"{report['elapsed_s']} s in all")
    rows = ["| step | status | s | setup | figure | value | target |", "|---|---|---:|---|---|---:|---|"]
    for name, step in report["steps"].items():
        flat = flatten(step["figures"] or {})
        setup = ", ".join(f"{key} {value}" for key, value in flat.items() if key in SETUP)
        first = f"| {name} | {step['status']} | {step['seconds']} | {setup} |"
        figures = {key: value for key, value in flat.items() if key not in SETUP and not key.endswith("load_1min")}
        if not figures:
            rows.append(f"{first} (no figures: see steps/{name}.log) | | |")
        for i, (key, value) in enumerate(figures.items()):
            if isinstance(value, float) and abs(value) < 0.01:
                value = f"{value:.2g}"
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                value = f"{value:,}"
            rows.append(f"{first if i == 0 else '| | | | |'} {key} | {value} | {TARGETS.get((name, key), '')} |")
    return head + "\n\n" + "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the suite's output folder")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", type=int, default=0, help="1 when the steps ran with --quick sizes")
    parser.add_argument("--elapsed", type=int, default=None, help="the suite's wall seconds")
    args = parser.parse_args(argv)
    steps = {name: step for name in STEPS if (step := read_step(args.folder / "steps", name)) is not None}
    report = {"machine": machine(args.device), "device": args.device, "quick": bool(args.quick),
              "elapsed_s": args.elapsed, "steps": steps}
    (args.folder / "gpu_suite.json").write_text(json.dumps(report, indent=1) + "\n")
    table = markdown(report)
    (args.folder / "gpu_suite.md").write_text(table)
    print(table)
    print(f"figures: {args.folder / 'gpu_suite.json'}, {args.folder / 'gpu_suite.md'}")
    missing = [name for name, step in steps.items() if step["figures"] is None and name != "model"]
    missing += [name for name, step in steps.items() if name == "model" and step["rc"] != 0]
    if missing:
        print(f"gpu_suite: no figures from {', '.join(missing)} (see their logs in {args.folder / 'steps'})")
    return 1 if missing or not steps else 0


if __name__ == "__main__":
    sys.exit(main())
