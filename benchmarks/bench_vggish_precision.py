"""VGGish in float32, bfloat16 and int8 on the CPU: speed, distance from float32, downstream score.

    make demo                                   # once: the demo corpora (demo/corpus, demo/held-out)
    .venv/bin/python benchmarks/bench_vggish_precision.py --json /tmp/vggish-precision.json
    .venv/bin/python benchmarks/bench_vggish_precision.py --quick     # a smoke run (minutes)

(a) Speed and deviation: the mixes of the first ``--songs`` songs of ``--corpus`` (decoded at 16
    kHz, cut into VGGish examples) are embedded by the default configuration (``weights=random``,
    seed 0) at each precision, with 1 torch thread and with all cores; figures are x realtime of
    the network, the one-off build (the int8 calibration), and vs float32 the max and mean
    absolute deviation, the mean |float32| for scale, and the smallest cosine similarity.
(b) Downstream: ``instrec extract --features vggish[:precision=P]`` of ``--corpus`` and of
    ``--held-out`` into one store each per precision, then ``instrec train --model attention-mil``
    (same seed, ``--epochs``) on each and ``instrec evaluate`` of its test split (in-domain) and of
    the held-out corpus; reports frame micro / macro F1 and macro mAP side by side with the prior
    baseline of the same report.  The wall time of each extraction is reported too (CLI, end to end).
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

import numpy as np

PRECISIONS = ("float32", "bfloat16", "int8")
SCORES = ("frame.f1_micro", "frame.f1_macro", "frame.map_macro", "dominant.accuracy")


def songs_audio(corpus: Path, songs: int) -> np.ndarray:
    from pipeline.audio import load_resampled

    mixes = sorted(corpus.glob("*/*/mix.flac"))[:songs]
    if not mixes:
        raise SystemExit(f"{corpus}: no */*/mix.flac songs; run `make demo` first or pass --corpus")
    return np.concatenate([load_resampled(path, [16000])[16000] for path in mixes])


def speed_and_deviation(y: np.ndarray, *, threads: list[int]) -> dict:
    import torch

    from features.vggish import VGGishConfig, embed_examples, vggish_examples

    examples = vggish_examples(y)
    covered = len(examples) * 0.96
    figures: dict = {"examples": len(examples), "audio_s": round(covered, 1)}
    reference = None
    for precision in PRECISIONS:
        config = VGGishConfig(precision=precision)
        started = time.perf_counter()
        model = config.model("cpu")
        build = time.perf_counter() - started
        row: dict = {"build_s": round(build, 2)}
        for n in threads:
            torch.set_num_threads(n)
            embed_examples(examples[:64], model=model, device=torch.device("cpu"), precision=precision)  # warm-up
            started = time.perf_counter()
            out = embed_examples(examples, model=model, device=torch.device("cpu"), precision=precision)
            row[f"network_x_realtime_{n}_threads"] = round(covered / (time.perf_counter() - started), 1)
        if reference is None:
            reference = out
        error = np.abs(out - reference)
        cosine = (out * reference).sum(1) / np.maximum(
            np.linalg.norm(out, axis=1) * np.linalg.norm(reference, axis=1), 1e-30)
        row.update(max_abs_dev=float(error.max()), mean_abs_dev=float(error.mean()),
                   mean_abs_float32=float(np.abs(reference).mean()), min_cosine=float(cosine.min()))
        figures[precision] = row
    torch.set_num_threads(max(threads))
    return figures


def instrec(*args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "instrec", *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"instrec {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def downstream(corpus: Path, held_out: Path, work: Path, *, dataset: str, epochs: int, precisions: list[str]) -> dict:
    figures: dict = {}
    for precision in precisions:
        spec = "vggish" if precision == "float32" else f"vggish:precision={precision}"
        row: dict = {}
        stores = {name: work / f"{name}-{precision}.zarr" for name in ("corpus", "held-out")}
        for name, root in (("corpus", corpus), ("held-out", held_out)):
            shutil.rmtree(stores[name], ignore_errors=True)
            row[f"extract_{name}_s"] = round(instrec("extract", str(root), "--dataset", dataset, "--store",
                                                     str(stores[name]), "--features", spec, "--no-progress"), 1)
        run = work / f"run-{precision}"
        shutil.rmtree(run, ignore_errors=True)
        row["train_s"] = round(instrec("train", "--store", str(stores["corpus"]), "--features", spec, "--model",
                                       "attention-mil", "--out", str(run), "--epochs", str(epochs), "--seed", "0",
                                       "--device", "cpu", "--no-progress"), 1)
        for name, split in (("in-domain", "test"), ("held-out", "all")):
            report = work / f"report-{precision}-{name}"
            store = stores["corpus" if name == "in-domain" else "held-out"]
            instrec("evaluate", "--store", str(store), "--run", str(run), "--split", split, "--out", str(report),
                    "--track-plots", "0", "--no-progress")
            metrics = json.loads((report / "metrics.json").read_text())
            row[name] = {score: metrics[score] for score in SCORES}
            row[name]["prior"] = {score: metrics.get(f"baseline.{score}") for score in SCORES}
        figures[precision] = row
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("demo/corpus"))
    parser.add_argument("--held-out", type=Path, default=Path("demo/held-out"))
    parser.add_argument("--dataset", default="demo", help="reader of both corpora (default: demo)")
    parser.add_argument("--songs", type=int, default=40, help="songs of --corpus for (a)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--precisions", default="float32,int8", help="precisions of (b)")
    parser.add_argument("--quick", action="store_true", help="(a) on 4 songs, (b) with 2 epochs")
    parser.add_argument("--no-downstream", action="store_true", help="(a) only")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "instrec-bench-vggish-precision")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.songs, args.epochs = 4, 2
    args.work.mkdir(parents=True, exist_ok=True)
    cores = os.cpu_count() or 1
    result: dict = {"machine": f"{platform.machine()}, {cores} cores, {platform.processor() or platform.platform()}",
                    "load_before": round(os.getloadavg()[0], 2)}
    result["speed_and_deviation"] = speed_and_deviation(songs_audio(args.corpus, args.songs),
                                                        threads=sorted({1, cores}))
    if not args.no_downstream:
        result["downstream"] = downstream(args.corpus, args.held_out, args.work, dataset=args.dataset,
                                          epochs=args.epochs, precisions=args.precisions.split(","))
    result["load_after"] = round(os.getloadavg()[0], 2)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
