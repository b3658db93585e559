"""``instrec extract`` through the command line vs the plain loop a researcher writes, in one run.

    .venv/bin/python benchmarks/bench_cli_extract.py --songs 40 --seconds 60 --channels 1
    .venv/bin/python benchmarks/bench_cli_extract.py --songs 100 --seconds 60 --channels 2
    .venv/bin/python benchmarks/bench_cli_extract.py --songs 40 --seconds 60 --workers 1,2

Both sides are timed as a user runs them: a fresh process, from its start (interpreter and
imports included) to its exit, on the same FLAC corpus (44.1 kHz 16-bit, ``--channels``):

(a) the plain loop: ``librosa.load(path, sr=22050)`` + ``librosa.feature.melspectrogram`` (n_fft
    2048, hop 512, 128 mels) + ``power_to_db`` + ``np.save`` per file, one process;
(b) ``instrec extract CORPUS --dataset folder --store NEW --features logmel --workers W`` into a
    new store, for every ``--workers`` value.

Runs alternate (loop, instrec W1, instrec W2, loop, ...) ``--repeats`` times and the best of each
is reported, so a burst of load hits both sides alike.  ``--gil-profile`` (needs py-spy: ``pip
install -e .[bench]``) then samples one more ``instrec extract`` with ``py-spy record --gil`` and
reports the seconds during which each part of the program held the GIL: what keeps worker
threads from running in parallel.  The corpus is synthetic (harmonic notes +
noise), generated once into ``--work`` and reused.  Prints one JSON object (also ``--json PATH``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_logmel_store import audio_seconds  # noqa: E402

import numpy as np  # noqa: E402

PLAIN_LOOP = """
import sys
from pathlib import Path
import librosa
import numpy as np
out = Path(sys.argv[1])
for name in sys.argv[2:]:
    y, sr = librosa.load(name, sr=22050)
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=2048, hop_length=512, n_mels=128)
    np.save(out / (Path(name).stem + ".npy"), librosa.power_to_db(mel, ref=1.0))
"""


def write_song(path: Path, seconds: float, seed: int, channels: int, sr: int = 44100) -> None:
    import soundfile as sf

    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n, dtype=np.float64) / sr
    y = 0.02 * rng.standard_normal((n, channels))
    for start in np.arange(0.0, seconds, 0.5):
        f0 = 110.0 * 2 ** (rng.integers(0, 36) / 12)
        sl = slice(int(start * sr), min(n, int((start + 0.5) * sr)))
        tone = sum(0.1 / k * np.sin(2 * np.pi * k * f0 * t[sl]) for k in range(1, 5))
        y[sl] += tone[:, None]
    sf.write(str(path), np.clip(y, -1, 1).astype(np.float32), sr, subtype="PCM_16")


def make_corpus(folder: Path, *, songs: int, seconds: float, channels: int) -> list[Path]:
    from concurrent.futures import ProcessPoolExecutor

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"song{i:04d}.flac" for i in range(songs)]
    todo = [p for p in paths if not p.exists()]
    if todo:
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            list(pool.map(write_song, todo, [seconds] * len(todo), range(len(todo)), [channels] * len(todo)))
    return paths


def timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (the child's user + system) of one command run to its exit.

    An ``instrec extract`` (run with ``--json``) that failed any track is an error: its time would
    not be the time of the work.
    """
    before = os.times()
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    after = os.times()
    if "--json" in command and done.stdout.strip():
        summary = json.loads(done.stdout)
        if summary["failed"]:
            raise SystemExit(f"instrec extract failed {len(summary['failed'])} tracks: {summary['failed'][0]}")
    if done.returncode:
        tail = (done.stderr.strip().splitlines() or [""])[-1]
        raise SystemExit(f"{' '.join(command[:3])} ... exited with status {done.returncode}: {tail}")
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


GIL_PARTS = (("imports", "importlib"), ("zarr (event loop and arrays)", "zarr/"), ("zarr (event loop and arrays)", "asyncio/"),
             ("dask", "distributed/"), ("decoding", "soundfile"), ("resampling", "soxr"), ("log-mel", "features/"),
             ("scan and hashing", "readers/"), ("driver", "extraction/"), ("storage (instrec)", "storage/"))


def gil_profile(command: list[str], work: Path, *, rate: int = 200) -> dict[str, float]:
    """Seconds during which each part of ``command`` held the GIL (py-spy samples at ``rate`` Hz)."""
    raw = work / "gil-profile.txt"
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--gil-profile needs py-spy: pip install -e '.[bench]'")
    subprocess.run([spy, "record", "--gil", "-r", str(rate), "-f", "raw", "-o", str(raw), "--", *command],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parts: dict[str, float] = {}
    for line in raw.read_text().splitlines():
        stack, count = line.rsplit(" ", 1)
        part = next((name for name, pattern in GIL_PARTS if pattern in stack), "other")
        parts[part] = parts.get(part, 0.0) + int(count) / rate
    return {name: round(seconds, 2) for name, seconds in sorted(parts.items(), key=lambda kv: -kv[1])}


def instrec_command() -> list[str]:
    found = shutil.which("instrec", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "instrec"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--channels", type=int, default=1, choices=(1, 2))
    parser.add_argument("--workers", default="2", help="comma-separated --workers values to time")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--features", action="append", default=None,
                        help="--features of instrec extract (default logmel); repeat to time several in the same run")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "instrec-bench-cli")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--gil-profile", action="store_true", help="also sample which code holds the GIL (py-spy)")
    args = parser.parse_args()

    corpus = args.work / f"corpus-{args.songs}x{args.seconds:g}s-{args.channels}ch"
    paths = make_corpus(corpus, songs=args.songs, seconds=args.seconds, channels=args.channels)
    seconds = audio_seconds(paths)
    workers = [int(w) for w in args.workers.split(",")]
    loop_out = args.work / "loop-out"
    loop = [sys.executable, "-c", PLAIN_LOOP, str(loop_out), *map(str, paths)]
    loop_out.mkdir(parents=True, exist_ok=True)
    timed(loop[:4] + [str(paths[0])])  # untimed warm-up: the page cache and .pyc files, for both sides
    feature_lists = args.features or ["logmel"]

    def name(w: int, features: str) -> str:
        return f"instrec-w{w}" + (f" {features}" if len(feature_lists) > 1 else "")

    runs: dict[str, list[tuple[float, float]]] = {"loop": []}
    runs |= {name(w, f): [] for f in feature_lists for w in workers}
    load_before = os.getloadavg()[0]
    for _ in range(args.repeats):
        runs["loop"].append(timed(loop))
        for features in feature_lists:
            for w in workers:
                store = args.work / f"store-w{w}"
                shutil.rmtree(store, ignore_errors=True)
                runs[name(w, features)].append(timed([
                    *instrec_command(), "extract", str(corpus), "--dataset", "folder", "--store", str(store),
                    "--features", features, "--workers", str(w), "--no-progress", "--json",
                ]))
    best = {name: min(values) for name, values in runs.items()}
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.platform()}",
        "load": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "corpus": {"songs": args.songs, "seconds_each": args.seconds, "channels": args.channels, "sample_rate": 44100,
                   "audio_seconds": round(seconds, 1)},
        "features": feature_lists,
        "best_of": args.repeats,
        "wall_s": {name: round(wall, 3) for name, (wall, _) in best.items()},
        "cpu_s": {name: round(cpu, 3) for name, (_, cpu) in best.items()},
        "x_realtime": {name: round(seconds / wall, 1) for name, (wall, _) in best.items()},
        "vs_loop": {name: round(best["loop"][0] / wall, 3) for name, (wall, _) in best.items() if name != "loop"},
        "all_runs_wall_s": {name: [round(w, 3) for w, _ in values] for name, values in runs.items()},
    }
    if len(workers) > 1 and 1 in workers:
        result["scaling"] = {f"{name(w, f)} vs w1": round(best[name(1, f)][0] / best[name(w, f)][0], 3)
                             for f in feature_lists for w in workers if w != 1}
    if args.gil_profile:
        store = args.work / "store-gil"
        shutil.rmtree(store, ignore_errors=True)
        result["gil_held_s"] = gil_profile([
            *instrec_command(), "extract", str(corpus), "--dataset", "folder", "--store", str(store),
            "--features", feature_lists[-1], "--workers", str(max(workers)), "--no-progress"], args.work)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
