"""Shipping a trained run as a model folder with a card: ``models/<name>/``.

A model folder is a run directory without the resume state: the weights-only best checkpoint
(``model.pt``, loaded with ``torch.load(weights_only=True)``), ``config.json``,
``classes.json``, ``features.json`` (feature parameters and their hash), ``thresholds.json``
(the decision rule), ``training_data.json`` (what the prior baseline needs), ``recipe.json``
(how it was made), ``scores.json`` (the protocol's summary) and ``card.md``.
``training.run.load_run`` opens it like any run, so ``instrec predict``, ``evaluate`` and
``compare`` take it with ``--run``; ``instrec predict`` without ``--run`` uses
:func:`default_model_dir`.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Mapping

from core.errors import ModelError  # re-exported: defined in core.errors
from training.run_files import (
    CLASSES_FILE, CONFIG_FILE, FEATURES_FILE, METRICS_FILE, MODEL_FILE, MODEL_FOLDER_FILES, THRESHOLDS_FILE,
    TRAINING_DATA_FILE,
)

DEFAULT_MODEL = "gm-families"
MODEL_ENV = "INSTREC_MODEL"
MAX_WEIGHTS_BYTES = 20 * 1024 * 1024
COPIED = MODEL_FOLDER_FILES


def models_root() -> Path:
    """The repository's ``models/`` folder (beside the packages)."""
    return Path(__file__).resolve().parent.parent / "models"


def default_model_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The model ``instrec predict`` uses without ``--run``: ``$INSTREC_MODEL``, else ``models/gm-families``.

    Raises
    ------
    ModelError
        When that folder holds no model.
    """
    environ = os.environ if environ is None else environ
    path = Path(environ[MODEL_ENV]) if environ.get(MODEL_ENV) else models_root() / DEFAULT_MODEL
    if not (path / MODEL_FILE).is_file():
        raise ModelError(f"{path}: no shipped model here (no {MODEL_FILE}); pass --run RUN_DIR, set ${MODEL_ENV}, "
                         "or build it with `make model`")
    return path


def export_model(run_dir: str | Path, out: str | Path, *, summary: Mapping[str, Any], name: str) -> Path:
    """Copy a trained run into a model folder and write its card.

    Parameters
    ----------
    run_dir : path
        A run written by ``instrec train`` whose thresholds were tuned.
    out : path
        The model folder (replaced).
    summary : mapping
        :func:`evaluation.protocol.evaluate_recipe`'s summary of this run.
    name : str
        The model's name in the card.
    """
    from evaluation.protocol import markdown_tables

    run_dir, out = Path(run_dir), Path(out)
    missing = [f for f in COPIED if not (run_dir / f).is_file()]
    if missing:
        raise ModelError(f"{run_dir}: cannot ship this run, it lacks {', '.join(missing)}; train it with the recipe "
                         "(`instrec recipe`) so it is tuned and described")
    size = (run_dir / MODEL_FILE).stat().st_size
    if size > MAX_WEIGHTS_BYTES:
        raise ModelError(f"{run_dir / MODEL_FILE}: {size / 2**20:.1f} MiB of weights, above the "
                         f"{MAX_WEIGHTS_BYTES / 2**20:.0f} MiB a shipped model may have; use a smaller model")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name_ in COPIED:
        shutil.copy2(run_dir / name_, out / name_)
    (out / "scores.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    (out / "card.md").write_text(model_card(name, summary, run_dir=run_dir, tables=markdown_tables(summary)))
    return out


def model_card(name: str, summary: Mapping[str, Any], *, run_dir: Path, tables: str) -> str:
    """The Markdown card of a shipped model."""
    recipe = summary["recipe"]
    config = json.loads((run_dir / CONFIG_FILE).read_text())
    data = json.loads((run_dir / TRAINING_DATA_FILE).read_text())
    features = json.loads((run_dir / FEATURES_FILE).read_text())
    thresholds = json.loads((run_dir / THRESHOLDS_FILE).read_text())
    history = [json.loads(line) for line in (run_dir / METRICS_FILE).read_text().splitlines() if line.strip()]
    best = max(history, key=lambda r: r.get("score") or float("-inf")) if history else {}
    training = {k: config[k] for k in ("model", "model_options", "epochs", "batch_size", "window", "lr", "augment",
                                       "remix", "remix_stems", "monitor", "seed") if k in config}
    return f"""# {name}

Frame-level instrument-family detector (Slakh / General MIDI families, {len(json.loads(
        (run_dir / CLASSES_FILE).read_text()))} outputs) for `instrec predict`, trained by `make model`.

## Data
- Training corpus: {recipe['songs']} demo-corpus songs x {recipe['seconds']:g} s, every stem rendered with a soundfont
  drawn from {', '.join(recipe['train_soundfonts'])} and a program drawn from its family, per-stem sound design
  {'on' if recipe['sound_design'] else 'off'}, labels from {recipe['activity']}; {data['train_tracks']} training songs,
  {data.get('remix_stems', 0)} training stems for remixing.
- Held-out timbre: {recipe['held_out_songs']} songs x {recipe['held_out_seconds']:g} s rendered only with
  {recipe['held_out_soundfont']}, never heard in training: its validation half chose the epoch (epoch
  {best.get('epoch', '?')}) and tuned the thresholds (default rule: `{thresholds.get('default')}`), its test half is
  reported below and was used for no choice.
- Features: `{features['name']}` `{features['key']}` (config hash `{features['config_hash'][:12]}`), frame rate
  {features['frame_rate']:.2f} Hz.

## Recipe
`{json.dumps(training, sort_keys=True)}`

Rebuild with `make model` (the whole recipe is in `recipe.json`).

## Scores (test splits; prior baseline = the training prior, never listening; red = not above the baseline)
{tables}
## Known limits
- Trained on synthesized audio only (three General MIDI sample sets through FluidSynth, with effects); real
  recordings, other synthesizers and mixes with vocals sound different. The held-out-timbre scores above estimate
  how much is lost on an unheard sample set, not on real music.
- Classes absent from the corpus (Synth Effects, Percussive, Sound Effects) are never predicted.
- Arrangements are generated (plus melodies and harmony from the music21 corpus): production styles of real songs
  are not represented.
"""
