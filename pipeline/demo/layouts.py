"""Writing a rendered demo song in the on-disk layout of AAM or of Slakh2100.

AAM (flat folder, one prefix per song; formats as written by the ArtificialSongGenerator)::

    <id>_mix.flac  <id>_onsets.arff  <id>_segments.arff
    <id>_<Instrument>.mid  <id>_<Instrument>.flac  <id>_render.json

Slakh2100 (one folder per track under its split)::

    <split>/TrackNNNNN/{metadata.yaml, all_src.mid, MIDI/SXX.mid, stems/SXX.flac, mix.flac,
                        render.json}

``render.json`` is instrec's own sidecar: the musical settings, the mix bus and, per stem,
the soundfont, GM program, sound design and composition settings the song was made with
(see the package README).  Audio is mono 16-bit FLAC.
"""

from __future__ import annotations

import hashlib
import math
import json
from pathlib import Path

import numpy as np
import soundfile
import yaml

from pipeline.demo.song import Part, Song
from pipeline.demo.instruments import AAM_INSTRUMENTS, gm_program_name
from pipeline.demo.midi import midi_bytes, song_midi, stem_midi

_GENERATOR_NAMES = {
    "drums": "DemoRhythm",
    "bass": "DemoBassLine",
    "chords": "DemoChords",
    "melody": "DemoMelody",
    "arpeggio": "DemoArpeggio",
    "counter": "DemoCounterLine",
    "pad": "DemoPad",
    "riff": "DemoRiff",
    "stabs": "DemoStabs",
}


def arff_time(seconds: float) -> str:
    """A time as AAM's generator prints it: cut to whole microseconds, then as a float32.

    ``0.3614455`` -> ``'0.361445'``, ``3.9759004`` -> ``'3.9759'``, ``0`` -> ``'0.0'`` (the
    shortest decimal that reads back to the same float32).
    """
    microseconds = math.floor(seconds * 1e6 + 1e-3)  # + 1 ns absorbs binary rounding of exact times
    return np.format_float_positional(np.float32(microseconds / 1e6), unique=True, trim="0")


def onsets_arff(song: Song, track_id: str) -> str:
    """The ``<id>_onsets.arff`` text: a row at every note-on or note-off time.

    Each of the 31 instrument columns lists the keys sounding from that row on, ascending,
    ``+k`` for a key struck at that time: ``'[+55,60,64]'``; ``'[]'`` when silent.
    """
    unknown = [label for label in song.labels if label not in AAM_INSTRUMENTS]
    if unknown:
        raise ValueError(f"song has instruments outside the AAM vocabulary: {unknown}")
    by_label = {part.label: part.notes for part in song.parts}
    ticks = sorted({t for part in song.parts for note in part.notes for t in (note.start, note.end)})
    lines = [f"@RELATION 'Onset events in {track_id}'", "", "@ATTRIBUTE 'Onset time in seconds' NUMERIC"]
    lines += [f"@ATTRIBUTE 'Onset events of {name}' STRING" for name in AAM_INSTRUMENTS]
    lines += ["", "@DATA"]
    for tick in ticks:
        cells = [arff_time(song.seconds_at(tick))]
        for name in AAM_INSTRUMENTS:
            sounding = sorted(
                (note.pitch, note.start == tick)
                for note in by_label.get(name, ())
                if note.start <= tick < note.end
            )
            keys = ",".join(f"+{pitch}" if struck else str(pitch) for pitch, struck in sounding)
            cells.append(f"'[{keys}]'")
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def segments_arff(song: Song, track_id: str) -> str:
    """The ``<id>_segments.arff`` text: one row per section, then an ``'end'`` row."""
    lines = [
        f"@RELATION 'Segment information of {track_id}'",
        "",
        "@ATTRIBUTE 'Start time in seconds' NUMERIC",
        "@ATTRIBUTE 'Mark' STRING",
        "@ATTRIBUTE 'Tempo' NUMERIC",
        "@ATTRIBUTE 'Key' STRING",
        "@ATTRIBUTE 'Instruments' STRING",
        "@ATTRIBUTE 'Generator' STRING",
        "",
        "@DATA",
    ]
    for section in song.sections:
        instruments = ",".join(section.labels)
        generators = ",".join(_GENERATOR_NAMES[role] for role in section.roles)
        lines.append(
            f"{arff_time(song.seconds_at(section.start))},'{section.mark}',{song.bpm},'{song.key}',"
            f"'[{instruments}]','[{generators}]'"
        )
    end = max((note.end for part in song.parts for note in part.notes), default=0)
    lines.append(f"{arff_time(song.seconds_at(end))},'end',0,'','[]','[]'")
    return "\n".join(lines) + "\n"


def _write_flac(path: Path, audio: np.ndarray, sr: int) -> None:
    soundfile.write(path, np.clip(audio, -1.0, 1.0), sr, format="FLAC", subtype="PCM_16")


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")


def _write_json(path: Path, record: dict) -> None:
    _write_text(path, json.dumps(record, indent=2, sort_keys=True) + "\n")


def loudness_db(audio: np.ndarray) -> float:
    """Mean power in dB with the BS.1770 offset (-0.691), unweighted and ungated.

    A rough stand-in for Slakh's ``integrated_loudness`` (LUFS); -inf dB is reported as -120.
    """
    power = float(np.mean(np.square(audio, dtype=np.float64))) if audio.size else 0.0
    return round(-0.691 + 10 * math.log10(power), 6) if power > 1e-12 else -120.0


def write_aam_song(
    out: Path, track_id: str, song: Song, *, stems: np.ndarray, sr: int, render_info: dict, stem_info: list[dict]
) -> Path:
    """Write one song in the AAM layout; returns the mix path.

    Parameters
    ----------
    out : Path
        The corpus folder (created when missing).
    track_id : str
        Four-digit AAM id such as ``0001``.
    song : Song
    stems : np.ndarray [shape=(n_parts, n_samples)]
        Processed stems in the order of ``song.parts``; the mix is their sum.
    sr : int
    render_info : dict
        Written to ``<id>_render.json``, with one record per part (file name, label, role,
        notes and the part's ``stem_info`` entry).
    stem_info : list[dict]
        Per part: how the stem was rendered (``soundfont_name``, program, sound design...).
    """
    if len(set(song.labels)) != len(song.labels):
        raise ValueError(f"AAM songs have one stem per instrument; got {list(song.labels)}")
    out.mkdir(parents=True, exist_ok=True)
    mix_path = out / f"{track_id}_mix.flac"
    _write_text(out / f"{track_id}_onsets.arff", onsets_arff(song, track_id))
    _write_text(out / f"{track_id}_segments.arff", segments_arff(song, track_id))
    parts = []
    for part, audio, info in zip(song.parts, stems, stem_info):
        midi = midi_bytes(stem_midi(song, part, single_track=True))
        (out / f"{track_id}_{part.label}.mid").write_bytes(midi)
        _write_flac(out / f"{track_id}_{part.label}.flac", audio, sr)
        parts.append(_part_record(part, f"{track_id}_{part.label}", info))
    _write_flac(mix_path, stems.sum(axis=0), sr)
    _write_json(out / f"{track_id}_render.json", {**render_info, "parts": parts})
    return mix_path


def _part_record(part: Part, name: str, info: dict) -> dict:
    return {
        "name": name,
        "label": part.label,
        "role": part.role,
        "program": part.voice.program,
        "program_name": gm_program_name(part.voice.program),
        "is_drum": part.voice.is_drum,
        "n_notes": len(part.notes),
        **info,
    }


def write_slakh_song(
    out: Path,
    track_id: str,
    split: str,
    song: Song,
    *,
    stems: np.ndarray,
    sr: int,
    render_info: dict,
    stem_info: list[dict],
) -> Path:
    """Write one song in the Slakh2100 layout under ``out/<split>/<track_id>``; returns the track folder.

    ``metadata.yaml`` has Slakh's keys: ``UUID`` (md5 of ``all_src.mid``, as in Slakh),
    ``audio_dir``, ``midi_dir``, ``normalized``, ``overall_gain``, ``target_peak`` and per stem
    ``audio_rendered``, ``inst_class``, ``integrated_loudness`` (see :func:`loudness_db`),
    ``is_drum``, ``midi_program_name``, ``midi_saved``, ``plugin_name`` (the soundfont file
    name of that stem, from ``stem_info``) and ``program_num`` (0-based, 128 for drums).
    """
    track_dir = out / split / track_id
    (track_dir / "MIDI").mkdir(parents=True, exist_ok=True)
    (track_dir / "stems").mkdir(parents=True, exist_ok=True)
    all_src = midi_bytes(song_midi(song))
    (track_dir / "all_src.mid").write_bytes(all_src)
    stem_meta, parts = {}, []
    for index, (part, audio, info) in enumerate(zip(song.parts, stems, stem_info)):
        name = f"S{index:02d}"
        (track_dir / "MIDI" / f"{name}.mid").write_bytes(midi_bytes(stem_midi(song, part)))
        _write_flac(track_dir / "stems" / f"{name}.flac", audio, sr)
        stem_meta[name] = {
            "audio_rendered": True,
            "inst_class": part.label,
            "integrated_loudness": loudness_db(audio),
            "is_drum": part.voice.is_drum,
            "midi_program_name": gm_program_name(part.voice.program),
            "midi_saved": True,
            "plugin_name": info["soundfont_name"],
            "program_num": part.voice.program,
        }
        parts.append(_part_record(part, name, info))
    _write_flac(track_dir / "mix.flac", stems.sum(axis=0), sr)
    metadata = {
        "UUID": hashlib.md5(all_src).hexdigest(),
        "audio_dir": f"{track_id}/stems",
        "midi_dir": f"{track_id}/MIDI",
        "normalized": True,
        "overall_gain": 1.0,
        "stems": stem_meta,
        "target_peak": -1.0,
    }
    _write_text(track_dir / "metadata.yaml", yaml.safe_dump(metadata, sort_keys=True))
    _write_json(track_dir / "render.json", {**render_info, "parts": parts})
    return track_dir
