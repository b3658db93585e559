"""The demo corpus: compose, render and write N songs in the AAM or Slakh layout.

Seeds: every draw is keyed by ``(seed, song index, ...)``, so a song never changes when
the corpus grows and the same seed gives byte-identical files.

* composition (:func:`pipeline.demo.composer.compose_song`, programs included):
  ``default_rng([seed, i])``;
* mix bus (stem gains, EQ, bus reverb): ``default_rng([seed, i, 1])``;
* soundfont of stem ``k``: ``default_rng([seed, i, 2, k])`` (per-song modes:
  ``default_rng([seed, i, 2])``);
* sound design of stem ``k``: ``default_rng([seed, i, 3, k])``;
* drum kit of stem ``k``: ``default_rng([seed, i, 4, k])``.

Track ids are ``0001``... (AAM) or ``Track00001``... (Slakh); the splits are
:func:`pipeline.track.assign_splits` of the ids with ``split_ratios`` (default 80/10/10, the
split the AAM reader gives the same ids; Slakh tracks are written under that split's folder),
so a corpus of 3 songs or more has a validation and a test song.
A held-out corpus for the leave-one-timbre-out protocol uses ``(0, 0.5, 0.5)``: half of its
songs validate, half test.

Soundfonts (``soundfont_split``):

* ``stem`` (default): every stem draws its own soundfont from the list.
* ``holdout``: every stem of a test-split song uses the LAST soundfont; every stem of the
  other songs draws from the others, so training never hears the test sample set.
* ``cycle``: all stems of song ``i`` use soundfont ``i % n``.
* ``random``: all stems of song ``i`` use one soundfont drawn for the song.

Rendering is batched (:func:`pipeline.demo.render.render_batch`): songs are taken in groups
of up to :data:`SONGS_PER_BATCH`, and each group's stems are rendered with one FluidSynth run
per soundfont.  A stem rendered in a batch equals the stem rendered alone, so the grouping
(and ``workers``) never changes the corpus.
"""

from __future__ import annotations

import hashlib
import logging
import math
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.demo.choices import LAYOUTS, SOUNDFONT_SPLITS
from pipeline.demo.composer import PIECE_RATE, Song, compose_song
from pipeline.demo.effects import apply_effects, draw_effects
from pipeline.demo.instruments import DRUM_KITS, gm_program_name, voices_for
from pipeline.demo.layouts import write_aam_song, write_slakh_song
from pipeline.demo.pieces import PieceLibrary
from pipeline.demo.render import (
    RenderError,
    StemRequest,
    check_soundfont,
    fade_out,
    find_soundfonts,
    fluidsynth_binary,
    render_batch,
    stem_request,
    usable_shift,
)
from pipeline.demo.sound_design import apply_sound_design, draw_sound_design, restore_timing
from pipeline.track import SPLITS, InstrecError, assign_splits

GENERATOR = "instrec demo-corpus 2"
SONGS_PER_BATCH = 24
_KIT_P = (0.4, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1)  # Standard kit most often

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CorpusConfig:
    """Settings of a demo corpus, validated on creation (see :func:`generate_corpus`)."""

    layout: str = "aam"
    songs: int = 40
    seconds: float = 20.0
    seed: int = 0
    soundfont_split: str = "stem"
    effects: bool = True
    sound_design: bool = True
    sr: int = 22050
    workers: int = 2
    split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)

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
        ratios = tuple(self.split_ratios)
        if len(ratios) != 3 or any(not r >= 0 for r in ratios) or not sum(ratios) > 0:
            raise InstrecError(f"--split-ratios must be three non-negative numbers (train, validation, test) "
                               f"with a positive sum, got {self.split_ratios}")
        object.__setattr__(self, "split_ratios", tuple(float(r) for r in ratios))


@dataclass(frozen=True)
class _Job:
    """One song to render: what it is, where it goes, and each stem's timbre draws."""

    index: int
    song: Song
    track_id: str
    split: str
    fonts: tuple[Path, ...]
    designs: tuple[dict, ...]
    kits: tuple[int, ...]


def track_id_for(layout: str, index: int) -> str:
    """Track id of song ``index`` (0-based): ``0001`` for AAM, ``Track00001`` for Slakh."""
    return f"{index + 1:04d}" if layout == "aam" else f"Track{index + 1:05d}"


def compose_corpus(
    *,
    layout: str,
    songs: int,
    seconds: float,
    seed: int,
    pieces: PieceLibrary | None = None,
    piece_rate: float = PIECE_RATE,
) -> list[Song]:
    """The songs of a corpus, composed only (no files, no audio).

    ``pieces`` may be shared between calls to parse each music21 piece once; by default a
    new library (in memory, for this call) is used.
    """
    voices = voices_for(layout)
    library = PieceLibrary() if pieces is None else pieces
    return [
        compose_song(np.random.default_rng([seed, i]), seconds=seconds, voices=voices,
                     distinct_labels=layout == "aam", pieces=library, piece_rate=piece_rate)
        for i in range(songs)
    ]  # fmt: skip


def check_soundfont_split(mode: str, n_soundfonts: int) -> None:
    """Raise the one-line error for an unknown mode or a holdout without two soundfonts."""
    if mode not in SOUNDFONT_SPLITS:
        raise InstrecError(f"unknown soundfont split {mode!r}; choose one of {', '.join(SOUNDFONT_SPLITS)}")
    if mode == "holdout" and n_soundfonts < 2:
        raise InstrecError(
            "--soundfont-split holdout needs at least two soundfonts (the last one is kept for the "
            "test split); pass more with --soundfont or $INSTREC_SOUNDFONTS"
        )


def assign_soundfonts(
    n_stems: list[int], splits: list[str], soundfonts: list[Path], *, mode: str, seed: int
) -> list[tuple[Path, ...]]:
    """The soundfont of every stem of every song (module docstring for the modes).

    Parameters
    ----------
    n_stems : list[int]
        Stems of each song.
    splits : list[str]
        Split of each song.
    """
    check_soundfont_split(mode, len(soundfonts))
    n = len(soundfonts)
    out = []
    for i, (count, split) in enumerate(zip(n_stems, splits)):
        if mode == "cycle":
            out.append((soundfonts[i % n],) * count)
        elif mode == "random":
            out.append((soundfonts[int(np.random.default_rng([seed, i, 2]).integers(n))],) * count)
        elif mode == "holdout" and split == "test":
            out.append((soundfonts[-1],) * count)
        else:
            pool = soundfonts[:-1] if mode == "holdout" else soundfonts
            out.append(
                tuple(
                    pool[int(np.random.default_rng([seed, i, 2, k]).integers(len(pool)))]
                    for k in range(count)
                )
            )
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _stem_records(job: _Job, shas: dict[Path, str]) -> list[dict]:
    records = []
    for part, font, design, kit in zip(job.song.parts, job.fonts, job.designs, job.kits):
        record = {
            "soundfont": str(font),
            "soundfont_name": font.name,
            "soundfont_sha256": shas[font],
            "program": part.voice.program,
            "program_name": gm_program_name(part.voice.program),
            "sound_design": design,
            "composition": part.details,
        }
        if part.voice.is_drum:
            record["drum_kit"] = kit
        records.append(record)
    return records


def _write_song(out: Path, config: CorpusConfig, job: _Job, audio: list[np.ndarray], shas) -> str:
    """Sound design, mix bus and files of one rendered song; returns the written path."""
    song = job.song
    n_samples = int(round(song.seconds * config.sr))
    stems = np.zeros((len(song.parts), n_samples), dtype=np.float32)
    for k, (rendered, design) in enumerate(zip(audio, job.designs)):
        restored = restore_timing(
            rendered, semitones=design["shift_semitones"], sr=config.sr, n_samples=n_samples
        )
        stems[k] = apply_sound_design(restored, design, sr=config.sr)
    fade_out(stems, sr=config.sr)
    effects = draw_effects(np.random.default_rng([config.seed, job.index, 1]), n_stems=len(song.parts),
                           enabled=config.effects)  # fmt: skip
    stems = apply_effects(stems, effects, sr=config.sr)
    render_info = {
        "generator": GENERATOR,
        "layout": config.layout,
        "track_id": job.track_id,
        "seed": config.seed,
        "index": job.index,
        "split": job.split,
        "soundfont_split": config.soundfont_split,
        "soundfonts": sorted({font.name for font in job.fonts}),
        "effects": effects,
        "sound_design": config.sound_design,
        "sr": config.sr,
        "seconds": song.seconds,
        "tempo_bpm": song.bpm,
        "key": song.key,
        "meter": f"{song.meter[0]}/{song.meter[1]}",
        "feel": song.feel,
        "source": song.source,
    }
    written = {"stems": stems, "sr": config.sr, "render_info": render_info,
               "stem_info": _stem_records(job, shas)}  # fmt: skip
    if config.layout == "aam":
        return str(write_aam_song(out, job.track_id, song, **written))
    remove_earlier_copies(out, job.track_id, job.split)
    return str(write_slakh_song(out, job.track_id, job.split, song, **written))


def remove_earlier_copies(out: Path, track_id: str, split: str) -> None:
    """Delete this generator's earlier copy of a Slakh-layout song from another split's folder.

    A small corpus's splits move songs as it grows (:func:`pipeline.track.assign_splits`); the
    song is written again under its new split, and the old folder (recognised by its
    ``render.json``) would otherwise be a second copy of the track id.
    """
    for other in SPLITS:
        folder = out / other / track_id
        if other != split and (folder / "render.json").is_file():
            shutil.rmtree(folder)
            logger.info("%s: moved from %s to %s (the split of a small corpus)", track_id, other, split)


def _make_batch(out: Path, config: CorpusConfig, jobs: list[_Job], shas: dict[Path, str],
                on_song: Callable[[], None] = lambda: None) -> list[dict]:
    """Render a group of songs (one FluidSynth run per soundfont) and write them; ``on_song()``
    after each song (written or skipped)."""
    requests: dict[Path, list[tuple[int, int]]] = {}
    built: dict[tuple[int, int], StemRequest] = {}
    problems: dict[int, str] = {}
    for j, job in enumerate(jobs):
        for k, (part, font, design, kit) in enumerate(zip(job.song.parts, job.fonts, job.designs, job.kits)):
            built[j, k] = stem_request(job.song, part, semitones=design["shift_semitones"], kit=kit)
            requests.setdefault(font, []).append((j, k))
    audio: dict[tuple[int, int], np.ndarray] = {}
    for font, keys in requests.items():
        try:
            rendered = render_batch([built[key] for key in keys], font, sr=config.sr)
        except (InstrecError, OSError, ValueError) as exc:
            for j, _k in keys:
                problems.setdefault(j, str(exc))
            continue
        audio.update(zip(keys, rendered))
    infos = []
    for j, job in enumerate(jobs):
        info = {
            "track_id": job.track_id,
            "index": job.index,
            "split": job.split,
            "soundfonts": [str(font) for font in job.fonts],
            "instruments": list(job.song.labels),
        }
        try:
            if j in problems:
                raise RenderError(problems[j])
            info["path"] = _write_song(
                out, config, job, [audio[j, k] for k in range(len(job.song.parts))], shas
            )
            logger.info("%s: %s", job.track_id, ", ".join(job.song.labels))
        except (InstrecError, OSError, ValueError) as exc:  # a bad song never stops the corpus
            info["problem"] = f"{job.track_id}: {exc}"
            logger.warning("skipped %s", info["problem"])
        infos.append(info)
        on_song()
    return infos


def generate_corpus(
    out: str | Path,
    *,
    layout: str = "aam",
    songs: int = 40,
    seconds: float = 20.0,
    seed: int = 0,
    soundfonts: list[str | Path] | None = None,
    soundfont_split: str = "stem",
    effects: bool = True,
    sound_design: bool = True,
    sr: int = 22050,
    workers: int = 2,
    split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    progress: bool = False,
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
    soundfont_split : {"stem", "holdout", "cycle", "random"}
        How stems are given soundfonts (module docstring).
    effects : bool
        Song mix bus: random stem gains, EQ and reverb (:mod:`pipeline.demo.effects`).
    sound_design : bool
        Per-stem effect chain and resampling shift (:mod:`pipeline.demo.sound_design`).
    sr : int
        Sample rate of the written audio.
    workers : int
        Groups of songs rendered at the same time.
    split_ratios : (train, validation, test)
        Shares of the deterministic split by track id.
    progress : bool
        Show a progress bar (songs written) on stderr.

    Returns
    -------
    list[dict]
        Per song, in order: ``track_id``, ``index``, ``split``, ``soundfonts`` (one path per
        stem), ``instruments`` (class labels, one per stem), ``path`` (AAM mix file or Slakh
        track folder), and ``problem`` instead of ``path`` when that song could not be made.

    Raises
    ------
    InstrecError
        Bad settings, FluidSynth or soundfonts missing (before any song is made).
    """
    config = CorpusConfig(layout, songs, float(seconds), int(seed), soundfont_split, bool(effects),
                          bool(sound_design), int(sr), int(workers), tuple(split_ratios))  # fmt: skip
    fluidsynth_binary()
    fonts = [check_soundfont(p) for p in soundfonts] if soundfonts else find_soundfonts()
    fonts = list(dict.fromkeys(fonts))
    check_soundfont_split(soundfont_split, len(fonts))
    shas = {font: _sha256(font) for font in fonts}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    track_ids = [track_id_for(layout, i) for i in range(songs)]
    assigned_splits = assign_splits(track_ids, config.split_ratios)  # what the readers give these ids
    splits = [assigned_splits[track_id] for track_id in track_ids]
    corpus = compose_corpus(layout=layout, songs=songs, seconds=config.seconds, seed=seed)
    assigned = assign_soundfonts(
        [len(s.parts) for s in corpus], splits, fonts, mode=soundfont_split, seed=seed
    )
    jobs = []
    for i, (song, track_id, split, stem_fonts) in enumerate(zip(corpus, track_ids, splits, assigned)):
        designs = []
        for k, part in enumerate(song.parts):
            design = draw_sound_design(np.random.default_rng([seed, i, 3, k]), enabled=config.sound_design)
            designs.append({**design, "shift_semitones": usable_shift(part, design["shift_semitones"])})
        kits = tuple(
            int(np.random.default_rng([seed, i, 4, k]).choice(DRUM_KITS, p=_KIT_P))
            for k in range(len(song.parts))
        )
        jobs.append(_Job(i, song, track_id, split, stem_fonts, tuple(designs), kits))
    # equal groups of at most SONGS_PER_BATCH songs, a multiple of `workers` of them
    n_groups = config.workers * math.ceil(songs / (config.workers * SONGS_PER_BATCH))
    size = math.ceil(songs / n_groups)
    groups = [jobs[g : g + size] for g in range(0, songs, size)]
    from tqdm import tqdm

    with ThreadPoolExecutor(max_workers=config.workers) as pool, \
            tqdm(total=songs, desc="demo-corpus", unit="song", disable=not progress) as bar:
        futures = [pool.submit(_make_batch, out, config, group, shas, lambda: bar.update(1)) for group in groups]
        infos = [info for future in futures for info in future.result()]
    stale = stale_songs(out, infos)
    if stale:
        logger.warning(
            "%s also holds %d song(s) this run did not write (%s); readers will pick them up too. "
            "Delete the folder first for a clean corpus.",
            out,
            len(stale),
            ", ".join(stale[:5]) + (" ..." if len(stale) > 5 else ""),
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
    "assign_soundfonts",
    "compose_corpus",
    "generate_corpus",
    "track_id_for",
]
