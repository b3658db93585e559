"""The leave-one-timbre-out protocol: train on renders with some sample sets, test on another.

Generalisation to timbres a model never heard is what matters for real recordings, so models
are trained on demo corpora rendered with some of the project's General MIDI sample sets and
judged on a corpus rendered only with a sample set training never hears:

1. :func:`render_corpora` -- the training corpus (every stem draws its soundfont from
   ``train_soundfonts``; splits 80/10/10, the test split is the in-domain test) and the
   held-out corpus (``held_out_soundfont`` only; its validation half selects the epoch and tunes
   the thresholds, its test half is reported, never used for any choice);
2. :func:`build_stores` -- log-mel stores, with stems for the training corpus (remixing);
3. :func:`train_recipe` -- training with the recipe's settings, ``validation_store`` = the
   held-out store, then the thresholds tuned on its validation split;
4. :func:`evaluate_recipe` -- reports on the in-domain test split and the held-out test split,
   a comparison, and the per-family table (model F1 beside the prior baseline's, in-domain and
   held-out).

Each step skips work already done with the same settings (corpora carry a ``protocol.json``
marker; extraction is incremental), so a recipe can be re-run or extended cheaply.  The steps
are plain functions: ``instrec recipe`` / ``make model`` run them in a row, and the
``demo-pipeline`` flow wraps them as Prefect tasks.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from core.errors import ProtocolError  # re-exported: defined in core.errors
from training.run_files import RECIPE_FILE

log = logging.getLogger(__name__)

FAMILY_MIN_POSITIVE_SHARE = 0.02  # families with fewer positive frames are not held to the per-family target


@dataclass(frozen=True)
class ProtocolConfig:
    """One leave-one-timbre-out recipe.

    Parameters
    ----------
    train_soundfonts : tuple of str
        File names (``FluidR3_GM.sf2``) or paths of the sample sets the training corpus uses.
    held_out_soundfont : str
        The sample set of the held-out corpus (never in training).
    songs, seconds : int, float
        Training corpus size.
    held_out_songs, held_out_seconds : int, float
        Held-out corpus size (half validation, half test).
    seed : int
        Corpus and training seed.
    sound_design : bool
        Per-stem random effect chains in the corpora (the ablation switches it off).
    stems : bool
        Store the training corpus's stems (needed by ``remix``).
    activity : str
        ``notes`` or ``stem-energy`` labels (see :mod:`features.activity`).
    training : mapping
        :class:`training.config.TrainConfig` fields (model, model_options, epochs, remix, ...).
    workers : int
        Rendering and extraction workers.
    """

    train_soundfonts: tuple[str, ...] = ("FluidR3_GM.sf2", "MuseScore_General_Lite.sf3")
    held_out_soundfont: str = "TimGM6mb.sf2"
    songs: int = 240
    seconds: float = 15.0
    held_out_songs: int = 48
    held_out_seconds: float = 15.0
    seed: int = 0
    sound_design: bool = True
    stems: bool = True
    activity: str = "notes"
    training: Mapping[str, Any] = field(default_factory=dict)
    workers: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "train_soundfonts", tuple(self.train_soundfonts))
        object.__setattr__(self, "training", dict(self.training))
        if self.held_out_soundfont in self.train_soundfonts:
            raise ProtocolError(f"the held-out soundfont {self.held_out_soundfont} is also a training soundfont; "
                                "hold out one the training corpus never uses")
        if self.training.get("remix", 0) and not self.stems:
            raise ProtocolError("training remixes stems: the recipe needs stems=True")

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["train_soundfonts"] = list(self.train_soundfonts)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ProtocolConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ProtocolError(f"unknown recipe keys {unknown}; known: {sorted(names)}")
        return cls(**dict(data))


@dataclass(frozen=True)
class ProtocolPaths:
    """Where a protocol run keeps its corpora, stores, run and reports."""

    root: Path

    corpus = property(lambda self: self.root / "corpus")
    held_out = property(lambda self: self.root / "held-out")
    store = property(lambda self: self.root / "stores" / "corpus.zarr")
    held_out_store = property(lambda self: self.root / "stores" / "held-out.zarr")
    run = property(lambda self: self.root / "run")
    reports = property(lambda self: self.root / "reports")


def resolve_soundfont(name: str) -> Path:
    """A soundfont by file name among those :func:`pipeline.demo.render.find_soundfonts` finds, or by path."""
    from pipeline.demo.render import find_soundfonts

    if Path(name).is_file():
        return Path(name).resolve()
    for font in find_soundfonts():
        if font.name == name:
            return font
    raise ProtocolError(f"soundfont {name!r} not found (have: {', '.join(f.name for f in find_soundfonts())}); "
                        "install the Debian packages `make setup` installs, or pass a path")


def _marked(folder: Path, settings: dict[str, Any]) -> bool:
    marker = folder / "protocol.json"
    return marker.is_file() and json.loads(marker.read_text()) == settings


PARTS = ("corpus", "held_out")


def render_corpora(config: ProtocolConfig, paths: ProtocolPaths, *, parts: tuple[str, ...] = PARTS) -> dict[str, Path]:
    """Render the training (``corpus``) and held-out corpora of ``parts`` (each skipped when already
    rendered with these settings)."""
    from pipeline.demo import generate_corpus

    jobs = {
        "corpus": (paths.corpus, [resolve_soundfont(n) for n in config.train_soundfonts], config.songs,
                   config.seconds, config.seed, (0.8, 0.1, 0.1)),
        "held_out": (paths.held_out, [resolve_soundfont(config.held_out_soundfont)], config.held_out_songs,
                     config.held_out_seconds, config.seed + 1000, (0.0, 0.5, 0.5)),
    }
    for name, (folder, fonts, songs, seconds, seed, ratios) in jobs.items():
        if name not in parts:
            continue
        settings = {"soundfonts": [f.name for f in fonts], "songs": songs, "seconds": seconds, "seed": seed,
                    "split_ratios": list(ratios), "sound_design": config.sound_design}
        if _marked(folder, settings):
            log.info("%s: already rendered with these settings", folder)
            continue
        if folder.exists():
            shutil.rmtree(folder)
        made = generate_corpus(folder, layout="slakh", songs=songs, seconds=seconds, seed=seed, soundfonts=fonts,
                               split_ratios=ratios, sound_design=config.sound_design, workers=config.workers)
        failed = [song for song in made if "problem" in song]
        if len(failed) == len(made):
            raise ProtocolError(f"{folder}: no song could be rendered: {failed[0]['problem']}")
        (folder / "protocol.json").write_text(json.dumps(settings, indent=1) + "\n")
    return {"corpus": paths.corpus, "held_out": paths.held_out}


def build_stores(config: ProtocolConfig, paths: ProtocolPaths, *, features: str = "logmel",
                 parts: tuple[str, ...] = PARTS) -> dict[str, str]:
    """Extract the corpora of ``parts`` into their stores (incremental): stems for the training corpus."""
    from features.activity import ActivityConfig
    from features.registry import build_config
    from pipeline.extraction import FeatureTarget, extract_dataset
    from pipeline.readers import read_dataset
    from pipeline.readers.files import SourceHashCache

    activity = ActivityConfig(mode=config.activity)
    targets = [FeatureTarget.from_config(build_config(features))]
    jobs = {"corpus": (paths.corpus, paths.store, config.stems), "held_out": (paths.held_out, paths.held_out_store, False)}
    for corpus, store, stems in (jobs[part] for part in PARTS if part in parts):
        cache = SourceHashCache()
        needs_stems = stems or activity.needs_stem_audio
        tracks = read_dataset("demo", corpus, hash_cache=cache, **({"stems": True} if needs_stems else {}))
        summary = extract_dataset(tracks, str(store), targets=targets, workers=config.workers, progress=False,
                                  hash_cache=cache, stems=stems, activity=activity)
        log.info("%s", summary.text())
        if not summary.done and not summary.skipped:
            raise ProtocolError(f"{store}: no track extracted: {summary.failed[:1]}")
    return {"store": str(paths.store), "held_out_store": str(paths.held_out_store)}


def train_recipe(config: ProtocolConfig, paths: ProtocolPaths, *, device: str = "auto",
                 progress: bool = False, run_dir: Path | None = None) -> Path:
    """Train the recipe's model into ``run_dir`` (default ``paths.run``; an earlier run there is
    replaced) and tune its thresholds on the held-out validation split."""
    from evaluation.tune import tune_after_training
    from training.config import TrainConfig
    from training.loop import train

    run_dir = run_dir or paths.run
    if run_dir.exists():
        shutil.rmtree(run_dir)
    options = {"model": "crnn", **config.training}
    train_config = TrainConfig(store=str(paths.store), features="logmel", out=str(run_dir),
                               validation_store=str(paths.held_out_store), device=device, progress=progress,
                               seed=config.seed, **options)
    run_dir = train(train_config)
    tune_after_training(train_config, run_dir)
    (run_dir / RECIPE_FILE).write_text(json.dumps(config.to_json(), indent=1, sort_keys=True) + "\n")
    return run_dir


def evaluate_recipe(config: ProtocolConfig, paths: ProtocolPaths, run_dir: Path | None = None,
                    reports_dir: Path | None = None) -> dict[str, Any]:
    """Reports on the in-domain and held-out test splits, their comparison and the per-family table,
    under ``reports_dir`` (default ``paths.reports``) with the run's summary in ``summary.json``."""
    from evaluation.compare import compare_reports
    from evaluation.evaluate import evaluate

    run_dir = run_dir or paths.run
    reports_dir = reports_dir or paths.reports
    reports = {"in_domain": reports_dir / "in-domain", "held_out": reports_dir / "held-out"}
    metrics = {
        "in_domain": evaluate(str(paths.store), run_dir, "test", reports["in_domain"]),
        "held_out": evaluate(str(paths.held_out_store), run_dir, "test", reports["held_out"]),
    }
    comparison = compare_reports(list(reports.values()), reports_dir / "comparison")
    table = family_table(metrics["in_domain"], metrics["held_out"])
    summary = {"recipe": config.to_json(), "run": str(run_dir),
               "reports": {k: str(v / "report.html") for k, v in reports.items()}, "comparison": str(comparison),
               "headline": {k: headline(m) for k, m in metrics.items()}, "families": table,
               "held_out_soundfont": config.held_out_soundfont}
    (reports_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


HEADLINE = ("frame.f1_micro", "frame.f1_macro", "frame.map_macro", "segment.f1_micro", "dominant.accuracy")


def headline(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Model and prior-baseline scores of a report's headline metrics."""
    out = {}
    for key in HEADLINE:
        level, metric = key.split(".", 1)
        out[key] = {"model": metrics.get(key), "prior": metrics.get(f"baseline.{level}.{metric}"),
                    "majority": metrics.get(f"baseline_majority.{level}.{metric}")}
    out["thresholds"] = metrics.get("thresholds", {}).get("default")
    out["n_tracks"] = metrics.get("n_tracks")
    return out


def family_table(in_domain: Mapping[str, Any], held_out: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per class: model F1 and the prior baseline's (the class always active), in-domain and held-out,
    with the class's share of positive frames in the held-out test split."""
    rows = []
    positives = {name: row.get("support", 0) for name, row in held_out.get("per_class", {}).items()}
    total = sum(positives.values()) or 1
    for name in held_out.get("per_class", {}):
        ind, held = in_domain.get("per_class", {}).get(name, {}), held_out["per_class"][name]
        share = positives[name] / total
        gain = (None if held.get("f1") is None or held.get("baseline_f1") is None
                else held["f1"] - held["baseline_f1"])
        rows.append({"class": name, "positive_share": round(share, 4),
                     "in_domain_f1": ind.get("f1"), "in_domain_prior_f1": ind.get("baseline_f1"),
                     "held_out_f1": held.get("f1"), "held_out_prior_f1": held.get("baseline_f1"),
                     "held_out_gain": gain,
                     "held_to_target": share >= FAMILY_MIN_POSITIVE_SHARE})
    return rows


def markdown_tables(summary: Mapping[str, Any]) -> str:
    """The headline and per-family tables of a protocol summary, as Markdown (for README and cards)."""
    def cell(value: Any) -> str:
        return "n/a" if value is None or (isinstance(value, float) and not np.isfinite(value)) else f"{value:.3f}"

    def mark(model: Any, prior: Any) -> str:
        text = cell(model)
        if model is not None and prior is not None and model <= prior:
            return f'<span style="color:red">{text} (not above the baseline)</span>'
        return text

    head = summary["headline"]
    lines = ["| score | in-domain | prior | majority | held-out | prior | majority |", "|---|---|---|---|---|---|---|"]
    for key in HEADLINE:
        a, b = head["in_domain"][key], head["held_out"][key]
        best_a = max((v for v in (a["prior"], a["majority"]) if v is not None), default=None)
        best_b = max((v for v in (b["prior"], b["majority"]) if v is not None), default=None)
        lines.append(f"| {key} | {mark(a['model'], best_a)} | {cell(a['prior'])} | {cell(a['majority'])} | "
                     f"{mark(b['model'], best_b)} | {cell(b['prior'])} | {cell(b['majority'])} |")
    lines += ["", "| family | held-out share of positive frames | in-domain F1 | prior | held-out F1 | prior |",
              "|---|---|---|---|---|---|"]
    for row in summary["families"]:
        lines.append(f"| {row['class']} | {row['positive_share']:.1%} | "
                     f"{mark(row['in_domain_f1'], row['in_domain_prior_f1'])} | {cell(row['in_domain_prior_f1'])} | "
                     f"{mark(row['held_out_f1'], row['held_out_prior_f1'])} | {cell(row['held_out_prior_f1'])} |")
    return "\n".join(lines) + "\n"


def run_protocol(config: ProtocolConfig, out: str | Path, *, device: str = "auto",
                 progress: bool = False) -> dict[str, Any]:
    """All four steps; returns :func:`evaluate_recipe`'s summary (also in ``out/reports/summary.json``)."""
    paths = ProtocolPaths(Path(out))
    paths.root.mkdir(parents=True, exist_ok=True)
    render_corpora(config, paths)
    build_stores(config, paths)
    run_dir = train_recipe(config, paths, device=device, progress=progress)
    return evaluate_recipe(config, paths, run_dir)
