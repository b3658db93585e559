"""Start-up time of the ``instrec`` command line, as a user runs it, against baselines of the same run.

    .venv/bin/python benchmarks/bench_startup.py [--runs 7] [--before DIR] [--json PATH]

Each command runs in a fresh process, through the installed console script (``instrec``, else
``python -m instrec``), ``--runs`` times; the runs go round-robin over all commands, so a
change of machine load hits every command alike.  Timed:

* baselines: ``python -c pass`` (the interpreter alone) and ``python -c "import torch"``;
* ``instrec --help`` and every subcommand's ``--help`` (``store info --help``...);
* a no-op ``instrec extract`` of an unchanged store: a synthetic folder corpus (``--songs`` WAV
  files of ``--seconds`` s, 22.05 kHz mono) is extracted once, untimed; every timed run finds all
  tracks unchanged, so it measures start-up, planning and the hash check of every track;
* the first track: ``instrec extract`` of a folder holding one 1 s song into a new store (removed
  before each run), i.e. start-up plus one track of work, the default local settings;
* with ``--before DIR`` (another checkout of instrec, e.g. ``git worktree add DIR main``), the
  same ``instrec`` commands with ``PYTHONPATH=DIR``: before and after in one run.

Reports the median wall time and the median CPU time (user + system of the child, steadier
than wall time on a loaded machine) of each, and each median as a ratio of ``import torch``.
Writes the figures as JSON (``--json``; default ``$OUT/bench_startup.json`` when ``$OUT`` is set)
and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def instrec_command() -> list[str]:
    """The console script next to this interpreter, else ``python -m instrec``."""
    script = Path(sys.executable).with_name("instrec")
    return [str(script)] if script.exists() else [sys.executable, "-m", "instrec"]


def help_commands() -> list[list[str]]:
    """``[]`` (``instrec --help``) and every subcommand, each to be run with ``--help``."""
    from instrec.cli import COMMAND_MODULES

    commands: list[list[str]] = [[]]
    for names in COMMAND_MODULES.values():
        for name in names:
            commands += [["store", sub] for sub in ("info", "verify", "export")] if name == "store" else [[name]]
    return commands


def write_corpus(folder: Path, *, songs: int, seconds: float) -> None:
    """``songs`` WAV files of seeded noise (22.05 kHz mono), written once."""
    import numpy as np
    import soundfile

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(songs):
        path = folder / f"song{i:03d}.wav"
        if not path.exists():
            y = 0.1 * np.random.default_rng(i).standard_normal(int(seconds * 22050))
            soundfile.write(str(path), y.astype(np.float32), 22050, subtype="PCM_16")


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the child) of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=tempfile.gettempdir(), stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def environment(tree: Path) -> dict[str, str]:
    """The environment with ``tree`` first on ``PYTHONPATH`` (its packages win over the installed ones)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(tree), os.environ.get("PYTHONPATH"))))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each command (median reported)")
    parser.add_argument("--songs", type=int, default=12, help="songs of the no-op extraction's corpus")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each song")
    parser.add_argument("--before", type=Path, default=None, metavar="DIR",
                        help="another instrec checkout to time the same commands from (before/after)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "instrec-bench-startup")
    parser.add_argument("--json", type=Path, default=None,
                        help="figures file (default: $OUT/bench_startup.json, else WORK/bench_startup.json)")
    args = parser.parse_args(argv)

    instrec = instrec_command()
    corpus, store = args.work / f"corpus-{args.songs}x{args.seconds:g}s", args.work / "store"
    write_corpus(corpus, songs=args.songs, seconds=args.seconds)
    one_song = args.work / "one-song"
    write_corpus(one_song, songs=1, seconds=1.0)
    trees = {"after": ROOT} | ({"before": args.before.resolve()} if args.before else {})
    extract = ["extract", str(corpus), "--dataset", "folder", "--no-progress"]
    new_stores: dict[str, str] = {}  # case -> a store removed before each of its runs
    cases: dict[str, tuple[list[str], dict[str, str]]] = {
        "python -c pass": ([sys.executable, "-c", "pass"], dict(os.environ)),
        'python -c "import torch"': ([sys.executable, "-c", "import torch"], dict(os.environ)),
    }
    for label, tree in trees.items():
        env = environment(tree)
        suffix = f" ({label})" if len(trees) > 1 else ""
        for command in help_commands():
            cases[f"instrec {' '.join(command + ['--help'])}{suffix}"] = (instrec + command + ["--help"], env)
        tree_store = f"{store}-{label}"
        shutil.rmtree(tree_store, ignore_errors=True)
        run_once(instrec + extract + ["--store", tree_store], env)  # builds the store, untimed
        cases[f"instrec extract, no-op ({args.songs} unchanged songs){suffix}"] = (
            instrec + extract + ["--store", tree_store], env)
        name = f"instrec extract, 1 song of 1 s into a new store{suffix}"
        new_stores[name] = f"{store}-new-{label}"
        cases[name] = (instrec + ["extract", str(one_song), "--dataset", "folder", "--no-progress", "--store",
                                  new_stores[name]], env)

    load = os.getloadavg()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, (command, env) in cases.items():
            if name in new_stores:
                shutil.rmtree(new_stores[name], ignore_errors=True)
            times[name].append(run_once(command, env))
    results = {name: {"wall_s": round(statistics.median(w for w, _ in runs), 4),
                      "cpu_s": round(statistics.median(c for _, c in runs), 4),
                      "walls_s": [round(w, 4) for w, _ in runs]} for name, runs in times.items()}
    torch_wall = results['python -c "import torch"']["wall_s"]
    torch_cpu = results['python -c "import torch"']["cpu_s"]
    for figures in results.values():
        figures["wall_vs_import_torch"] = round(figures["wall_s"] / torch_wall, 3)
        figures["cpu_vs_import_torch"] = round(figures["cpu_s"] / torch_cpu, 3)
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
                   f"{platform.python_version()}",
        "load_average_before": [round(x, 2) for x in load],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "runs": args.runs, "instrec": " ".join(instrec), "trees": {k: str(v) for k, v in trees.items()},
        "results": results,
    }
    out = args.json or Path(os.environ["OUT"] if os.environ.get("OUT") else args.work) / "bench_startup.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"{report['machine']}; load average {report['load_average_before']} -> {report['load_average_after']}; "
          f"median of {args.runs} runs")
    print()
    print("| command | wall s | CPU s | wall / `import torch` | CPU / `import torch` |")
    print("|---|---:|---:|---:|---:|")
    for name, figures in results.items():
        print(f"| `{name}` | {figures['wall_s']:.3f} | {figures['cpu_s']:.3f} | {figures['wall_vs_import_torch']:.2f} "
              f"| {figures['cpu_vs_import_torch']:.2f} |")
    print(f"\nfigures: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
