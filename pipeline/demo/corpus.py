"""The demo corpus: compose, render and write N songs in the AAM or Slakh layout.

Song ``i`` (0-based) is drawn from ``numpy.random.default_rng([seed, i])`` and its effects
from ``default_rng([seed, i, 1])``, so a song does not change when the corpus grows.  Track
ids are ``0001``... (AAM) or ``Track00001``... (Slakh); the split is
:func:`pipeline.track.deterministic_split` of the id with the default ratios, the same the
readers give AAM tracks (Slakh tracks are written under that split's folder).

Soundfont per song (``soundfont_split``):

* ``cycle`` (default): song ``i`` uses soundfont ``i % n``.
* ``random``: drawn from ``default_rng([seed, i, 2])``.
* ``holdout``: test-split songs use the LAST soundfont, all other songs cycle over the
  others, so a model trained on train/validation never hears the test sample set.
"""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.demo.composer import Song, compose_song
from pipeline.demo.effects import apply_effects, draw_effects
from pipeline.demo.instruments import LAYOUTS, voices_for
from pipeline.demo.layouts import write_aam_song, write_slakh_song
from pipeline.demo.render import (
    RenderError,
    check_soundfont,
    find_soundfonts,
    fluidsynth_binary,
    render_stems,
)
from pipeline.track import InstrecError, deterministic_split

SOUNDFONT_SPLITS = ("cycle", "random", "holdout")
GENERATOR = "instrec demo-corpus 1"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CorpusConfig:
    """Settings of a demo corpus, validated on creation (see :func:`generate_corpus`)."""

    layout: str = "aam"
    songs: int = 40
    seconds: float = 20.0
    seed: int = 0
    soundfont_split: str = "cycle"
    effects: bool = True
    sr: int = 22050
    workers: int = 2

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise InstrecError(f"unknown demo layout {self.layout!r}; choose one of {', '.join(LAYOUTS)}")
        if not 1 <= self.songs <= 9999:
            raise InstrecError(f"--songs must be within 1..9999 (AAM ids have four digits), got {self.songs}")
        if not 1.0 <= self.seconds <= 600.0:
            raise InstrecError(f"--seconds must be within 1..600, got {self.seconds}")
        if self.soundfont_split not in SOUNDFONT_SPLITS:
            raise InstrecError(
                f"unknown soundfont split {self.soundfont_split!r}; "
                f"choose one of {', '.join(SOUNDFONT_SPLITS)}"
            )
        if not 8000 <= self.sr <= 96000:
            raise InstrecError(f"--sr must be within 8000..96000 Hz (FluidSynth's range), got {self.sr}")
        if self.workers < 1:
            raise InstrecError(f"--workers must be at least 1, got {self.workers}")


def track_id_for(layout: str, index: int) -> str:
    """Track id of song ``index`` (0-based): ``0001`` for AAM, ``Track00001`` for Slakh."""
    return f"{index + 1:04d}" if layout == "aam" else f"Track{index + 1:05d}"


def compose_corpus(*, layout: str, songs: int, seconds: float, seed: int) -> list[Song]:
    """The songs of a corpus, composed only (no files, no audio)."""
    voices = voices_for(layout)
    return [
        compose_song(np.random.default_rng([seed, i]), seconds=seconds, voices=voices)
        for i in range(songs)
    ]


def assign_soundfonts(
    track_ids: list[str], splits: list[str], soundfonts: list[Path], *, mode: str, seed: int
) -> list[Path]:
    """The soundfont of each song (see the module docstring for the modes)."""
    n = len(soundfonts)
    if mode == "cycle":
        return [soundfonts[i % n] for i in range(len(track_ids))]
    if mode == "random":
        draws = [int(np.random.default_rng([seed, i, 2]).integers(n)) for i in range(len(track_ids))]
        return [soundfonts[k] for k in draws]
    if mode == "holdout":
        if n < 2:
            raise InstrecError(
                "--soundfont-split holdout needs at least two soundfonts (the last one is kept for the "
                "test split); pass more with --soundfont or $INSTREC_SOUNDFONTS"
            )
        return [
            soundfonts[-1] if split == "test" else soundfonts[i % (n - 1)]
            for i, split in enumerate(splits)
        ]
    raise InstrecError(f"unknown soundfont split {mode!r}; choose one of {', '.join(SOUNDFONT_SPLITS)}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _make_song(out: Path, config: CorpusConfig, index: int, song: Song, track_id: str, split: str,
               soundfont: Path, soundfont_sha: str) -> dict:  # fmt: skip
    info = {
        "track_id": track_id,
        "index": index,
        "split": split,
        "soundfont": str(soundfont),
        "instruments": list(song.labels),
    }
    try:
        effects = draw_effects(
            np.random.default_rng([config.seed, index, 1]),
            n_stems=len(song.parts),
            enabled=config.effects,
        )
        stems = apply_effects(render_stems(song, soundfont, sr=config.sr), effects, sr=config.sr)
        render_info = {
            "generator": GENERATOR,
            "layout": config.layout,
            "track_id": track_id,
            "seed": config.seed,
            "index": index,
            "split": split,
            "soundfont": str(soundfont),
            "soundfont_name": soundfont.name,
            "soundfont_sha256": soundfont_sha,
            "effects": effects,
            "sr": config.sr,
            "seconds": song.seconds,
            "tempo_bpm": song.bpm,
            "key": song.key,
        }
        written = {"stems": stems, "sr": config.sr, "render_info": render_info}
        if config.layout == "aam":
            info["path"] = str(write_aam_song(out, track_id, song, **written))
        else:
            info["path"] = str(write_slakh_song(out, track_id, split, song, **written))
        logger.info("%s: %s with %s", track_id, ", ".join(song.labels), soundfont.name)
    except (InstrecError, OSError, ValueError) as exc:  # a bad song never stops the batch
        info["problem"] = f"{track_id}: {exc}"
        logger.warning("skipped %s", info["problem"])
    return info


def generate_corpus(
    out: str | Path,
    *,
    layout: str = "aam",
    songs: int = 40,
    seconds: float = 20.0,
    seed: int = 0,
    soundfonts: list[str | Path] | None = None,
    soundfont_split: str = "cycle",
    effects: bool = True,
    sr: int = 22050,
    workers: int = 2,
) -> list[dict]:
    """Compose, render and write a demo corpus.

    Parameters
    ----------
    out : str or Path
        Corpus folder (created when missing; files of the same songs are overwritten).
    layout : {"aam", "slakh"}
    songs : int
        Number of songs.
    seconds : float
        Length of each song.
    seed : int
        Same seed, same MIDI, annotations and audio.
    soundfonts : list of paths, optional
        Soundfonts to render with; default: every one :func:`find_soundfonts` finds.
    soundfont_split : {"cycle", "random", "holdout"}
        How songs are given soundfonts (module docstring).
    effects : bool
        Random gain, EQ and reverb per song (:mod:`pipeline.demo.effects`).
    sr : int
        Sample rate of the written audio.
    workers : int
        Songs rendered at the same time.

    Returns
    -------
    list[dict]
        Per song, in order: ``track_id``, ``index``, ``split``, ``soundfont``, ``instruments``
        (class labels), ``path`` (AAM mix file or Slakh track folder), and ``problem`` instead
        of ``path`` when that song could not be made.

    Raises
    ------
    InstrecError
        Bad settings, FluidSynth or soundfonts missing (before any song is made).
    """
    config = CorpusConfig(
        layout, songs, float(seconds), int(seed), soundfont_split, bool(effects), int(sr), int(workers)
    )
    fluidsynth_binary()
    fonts = [check_soundfont(p) for p in soundfonts] if soundfonts else find_soundfonts()
    fonts = list(dict.fromkeys(fonts))
    shas = {font: _sha256(font) for font in fonts}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    track_ids = [track_id_for(layout, i) for i in range(songs)]
    splits = [deterministic_split(track_id) for track_id in track_ids]
    assigned = assign_soundfonts(track_ids, splits, fonts, mode=soundfont_split, seed=seed)
    corpus = compose_corpus(layout=layout, songs=songs, seconds=config.seconds, seed=seed)
    jobs = list(zip(range(songs), corpus, track_ids, splits, assigned))
    with ThreadPoolExecutor(max_workers=config.workers) as pool:
        futures = [
            pool.submit(_make_song, out, config, i, song, track_id, split, font, shas[font])
            for i, song, track_id, split, font in jobs
        ]
        infos = [future.result() for future in futures]
    stale = stale_songs(out, infos)
    if stale:
        logger.warning(
            "%s also holds %d song(s) this run did not write (%s); readers will pick them up too. "
            "Delete the folder first for a clean corpus.",
            out, len(stale), ", ".join(stale[:5]) + (" ..." if len(stale) > 5 else ""),
        )
    return infos


def stale_songs(out: Path, infos: list[dict]) -> list[str]:
    """Sidecar files under ``out`` from songs not in ``infos`` (an earlier, larger run)."""
    written = {info["track_id"] for info in infos}
    found = []
    for path in sorted(out.rglob("*render.json")):
        track_id = path.parent.name if path.name == "render.json" else path.name.removesuffix("_render.json")
        if track_id not in written:
            found.append(str(path.relative_to(out)))
    return found


__all__ = [
    "CorpusConfig",
    "RenderError",
    "SOUNDFONT_SPLITS",
    "compose_corpus",
    "generate_corpus",
    "track_id_for",
]
