"""AAM (Artificial Audio Multitracks) reader.

Layout: for each song id, ``<id>_mix.flac`` (or ``.wav``/``.mp3``), ``<id>_onsets.arff``,
``<id>_segments.arff``, optionally ``<id>_beatinfo.arff``, per-instrument stems
``<id>_<Instrument>.flac`` and MIDI ``<id>_<Instrument>.mid``.  The files may sit in one
folder or in any sub-folders (the AAM archives unpack to several); they are matched by
file name.

Activity comes from ``<id>_onsets.arff``: one row per note-on or note-off time, one column
``'Onset events of <Instrument>'`` per instrument, each cell a list of MIDI keys, ``+k``
for a key that starts at this row and a bare ``k`` for one still sounding.  A row's state
holds until the next row; the last row's time ends every key.  An instrument is active
while any of its keys sounds (a ``+k`` on a sounding key restarts the note, the instrument
stays active).  ``events_from="midi"`` reads the per-instrument MIDI files instead.

An onsets file that is empty or cut short would give a song with all-negative (or
early-ending) labels, so the extent of the annotations is checked: an empty ``@DATA`` is
refused; the onsets' last row must lie within :data:`END_TOLERANCE_S` (1 s) of the
``'end'`` row of ``<id>_segments.arff``; without a segments file (or its ``'end'`` row) the
onsets may end at most :data:`MAX_UNANNOTATED_TAIL_S` (10 s) before the audio does.  A song
failing either check is a :class:`~pipeline.track.TrackProblem` naming the onsets file.
Annotation files may start with a UTF-8 byte-order mark.

Splits: :func:`~pipeline.track.assign_splits` over every song id found (the per-id hash
split; a corpus of 3 songs or more always gets a validation and a test song).

Source hashes cover the annotations, the mix audio and (with ``events_from="midi"``) the
MIDI files.  Stems (``<id>_<Instrument>.flac``) become :class:`~pipeline.track.Stem` records
holding that instrument's events; their audio is hashed only with ``stems=True`` (stores with
stem features or stem-based labels), as otherwise no stored data depends on it.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Iterator

import arff

from pipeline.readers.files import (
    SourceHashCache, audio_header, check_root, error_message, hash_sources, outside_root_problem, walk_files,
)
from pipeline.readers.labels import EventOptions, clean_events, strong_label_fields
from pipeline.readers.midi import midi_note_intervals
from pipeline.readers.taxonomy import AAM_INSTRUMENTS, fixed_taxonomy
from pipeline.track import (
    DatasetError, Event, Stem, Track, TrackProblem, TrackScan, assign_splits, deterministic_split,
)

log = logging.getLogger(__name__)

MIX_EXTENSIONS = (".flac", ".wav", ".mp3")
ONSET_COLUMN_PREFIX = "Onset events of "
ANNOTATION_KINDS = ("onsets", "segments", "beatinfo")
# Annotations may end a little after the audio (rounding); beyond this, warn.  The onsets and
# the segments 'end' row mark the same moment (the last note-off); more than this apart, the
# onsets are cut short (or from another song) and the song is refused.
END_TOLERANCE_S = 1.0
# Without a segments file, onsets ending more than this before the audio does (a reverb tail
# and trailing silence are far shorter in AAM) are taken as cut short and the song is refused.
MAX_UNANNOTATED_TAIL_S = 10.0
# What each liac-arff error means; its own message can quote the offending line.
ARFF_PROBLEMS = {
    "BadRelationFormat": "a bad @RELATION line",
    "BadAttributeFormat": "a bad @ATTRIBUTE line",
    "BadAttributeType": "an unknown @ATTRIBUTE type",
    "BadAttributeName": "an @ATTRIBUTE name declared twice",
    "BadDataFormat": "a data row that does not match the @ATTRIBUTE columns",
    "BadNominalValue": "a value missing from its nominal declaration",
    "BadNominalFormatting": "an unquoted nominal value with spaces",
    "BadNumericalValue": "a value that is not a number in a NUMERIC column",
    "BadStringValue": "an unquoted string with spaces",
    "BadLayout": "sections out of order (expected @RELATION, @ATTRIBUTE lines, then @DATA)",
}


def arff_line_numbers(text: str) -> tuple[list[int], list[int]]:
    """File lines (1-based) of the ``@ATTRIBUTE`` declarations and of the data rows, in order."""
    attributes: list[int] = []
    data: list[int] = []
    in_data = False
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        row = line.strip()
        if in_data:
            if row and not row.startswith("%"):
                data.append(number)
        elif row.upper().startswith("@ATTRIBUTE"):
            attributes.append(number)
        elif row.upper().startswith("@DATA"):
            in_data = True
    return attributes, data


def load_arff(path: Path, *, data_optional: bool = False) -> dict:
    """Parse an ARFF file with liac-arff.

    Messages name the file, the line and what was expected, never the file's content.

    Parameters
    ----------
    data_optional : bool
        Accept a header without an ``@DATA`` section (older ``beatinfo`` files).

    Returns
    -------
    dict
        liac-arff's ``attributes``, ``data`` ..., plus ``attribute_lines`` and ``data_lines``:
        the file line of each attribute and of each data row.

    Raises
    ------
    DatasetError
        Missing, unreadable or malformed file.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Windows editors) is not content
    except FileNotFoundError as exc:
        raise DatasetError(f"{path}: annotation file is missing; re-download the AAM annotations") from exc
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the annotation file ({exc.strerror}); re-download it") from exc
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: annotation file is not UTF-8 text (byte {exc.start}); re-download it") from exc
    if data_optional and "@data" not in text.lower():
        text = text.rstrip("\n") + "\n@DATA\n"
    try:
        table = arff.loads(text)
    except arff.ArffException as exc:
        skipped = text[: len(text) - len(text.lstrip("\r\n "))].count("\n")  # liac-arff counts after these
        where = f" at line {exc.line + skipped}" if getattr(exc, "line", -1) > 0 else ""
        problem = ARFF_PROBLEMS.get(type(exc).__name__, "not valid ARFF")
        raise DatasetError(f"{path}: malformed ARFF{where}: {problem}; re-download the AAM annotations") from exc
    except Exception as exc:  # ValueError ... from a converter
        raise DatasetError(
            f"{path}: malformed ARFF ({type(exc).__name__}); re-download the AAM annotations"
        ) from exc
    table["attribute_lines"], table["data_lines"] = arff_line_numbers(text)
    return table


def _line(lines: list[int], index: int) -> str:
    """``"line N"`` for entry ``index`` of ``lines`` (``"?"`` if the count disagrees with liac-arff's)."""
    return f"line {lines[index]}" if index < len(lines) else "line ?"


def parse_key_cell(cell: object) -> list[tuple[int, bool]]:
    """``'[+36,42]'`` -> ``[(36, True), (42, False)]`` (key, starts here).

    Raises
    ------
    ValueError
        Not a bracketed list of integer keys (the message does not quote the cell).
    """
    text = str(cell).strip() if cell is not None else "[]"
    if not (text.startswith("[") and text.endswith("]")):
        raise ValueError("not a bracketed key list like '[+36,42]'")
    keys = []
    for token in filter(None, (t.strip() for t in text[1:-1].split(","))):
        starts = token.startswith("+")
        keys.append((int(token[1:] if starts else token), starts))
    return keys


def key_intervals(rows: list[tuple[float, list[tuple[int, bool]]]]) -> list[tuple[float, float]]:
    """Sounding intervals of one instrument's keys from its (time, cell) rows.

    A key starts at ``+k`` (or at a bare ``k`` not yet sounding), ends at the first row that
    no longer lists it, and restarts at a ``+k`` while sounding.  The last row's time ends
    every key.  Zero-length intervals are left out.
    """
    intervals: list[tuple[float, float]] = []
    sounding: dict[int, float] = {}
    for time, keys in rows:
        listed = dict(keys)
        for key in [k for k in sounding if k not in listed]:
            intervals.append((sounding.pop(key), time))
        for key, starts in keys:
            if key in sounding and starts:
                intervals.append((sounding[key], time))
                sounding[key] = time
            elif key not in sounding:
                sounding[key] = time
    if rows:
        last = rows[-1][0]
        intervals.extend((start, last) for start in sounding.values())
    return sorted((on, off) for on, off in intervals if off > on)


def onset_events(path: Path) -> tuple[list[Event], float]:
    """Events per instrument from ``<id>_onsets.arff``, and the last row's time.

    Raises
    ------
    DatasetError
        Malformed file, unknown instrument column, bad cell or decreasing times.
    """
    table = load_arff(path)
    names = [name for name, _ in table["attributes"]]
    if len(names) < 2:
        raise DatasetError(
            f"{path}: expected a time column and 'Onset events of <Instrument>' columns, got {len(names)} column(s)"
        )
    instruments = []
    for column, name in enumerate(names[1:], start=1):
        where = f"{_line(table['attribute_lines'], column)}: column {column + 1}"
        if not name.startswith(ONSET_COLUMN_PREFIX):
            raise DatasetError(f"{path}: {where} is not named 'Onset events of <Instrument>'")
        instrument = name[len(ONSET_COLUMN_PREFIX):]
        if instrument not in AAM_INSTRUMENTS:
            raise DatasetError(
                f"{path}: {where} names an instrument outside the AAM vocabulary ({', '.join(AAM_INSTRUMENTS)}); "
                "is this file from a newer AAM version?"
            )
        instruments.append(instrument)
    times: list[float] = []
    cells: list[list[list[tuple[int, bool]]]] = []
    for index, row in enumerate(table["data"]):
        where = f"{_line(table['data_lines'], index)} (data row {index + 1})"
        try:
            time = float(row[0])
        except (TypeError, ValueError) as exc:
            raise DatasetError(f"{path}: {where}: the time is not a number of seconds") from exc
        if not math.isfinite(time) or time < 0 or (times and time < times[-1]):
            raise DatasetError(f"{path}: {where}: the time is negative, not finite or earlier than the row before; "
                               "re-download the AAM annotations")
        parsed = []
        for column, cell in enumerate(row[1:], start=2):
            try:
                parsed.append(parse_key_cell(cell))
            except (TypeError, ValueError) as exc:
                raise DatasetError(f"{path}: {where}, column {column}: expected a bracketed list of MIDI keys like "
                                   "'[+36,42]'; re-download the AAM annotations") from exc
        times.append(time)
        cells.append(parsed)
    events = [
        Event(instrument, onset, offset)
        for column, instrument in enumerate(instruments)
        for onset, offset in key_intervals([(t, c[column]) for t, c in zip(times, cells)])
    ]
    if not times:
        raise DatasetError(f"{path}: the @DATA section has no rows, so the song would have no labels; the file "
                           "is cut short: re-download the AAM annotations")
    return events, times[-1]


def segments_end(path: Path) -> float | None:
    """Song end from the ``'end'`` row of ``<id>_segments.arff`` (None when absent)."""
    table = load_arff(path)
    names = [name.lower() for name, _ in table["attributes"]]
    if "mark" not in names:
        raise DatasetError(f"{path}: no 'Mark' column; is this a segments.arff file?")
    mark = names.index("mark")
    for index, row in enumerate(table["data"]):
        if str(row[mark]).strip().lower() == "end":
            try:
                return float(row[0])
            except (TypeError, ValueError) as exc:
                raise DatasetError(f"{path}: {_line(table['data_lines'], index)}: the 'end' row has no time; "
                                   "expected seconds in the first column") from exc
    return None


def index_files(root: Path) -> dict[str, list[Path]]:
    """File name -> every path with that name under ``root``."""
    index: dict[str, list[Path]] = {}
    for path in walk_files(root):
        index.setdefault(path.name, []).append(path)
    return index


def find_one(index: dict[str, list[Path]], names: list[str], track_id: str) -> Path | None:
    """The single file with one of ``names``; a duplicate is a DatasetError."""
    found = [path for name in names for path in index.get(name, [])]
    if len(found) > 1:
        raise DatasetError(
            f"{len(found)} files for one role of song {track_id}: {', '.join(map(str, found))}; keep one of them"
        )
    return found[0] if found else None


def song_ids(index: dict[str, list[Path]]) -> list[str]:
    """Ids of the songs that have an onsets annotation or a mix."""
    suffixes = ["_onsets.arff"] + [f"_mix{ext}" for ext in MIX_EXTENSIONS]
    ids = {name[: -len(s)] for name in index for s in suffixes if name.endswith(s) and len(name) > len(s)}
    return sorted(ids)


def read_aam(
    root: str | Path,
    *,
    taxonomy: str | None = None,
    split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    merge_gap_s: float = 0.0,
    min_event_s: float = 0.0,
    events_from: str = "onsets",
    dataset: str = "aam",
    hash_cache: SourceHashCache | None = None,
    stems: bool = False,
) -> Iterator[Track | TrackProblem]:
    """One Track (or TrackProblem) per AAM song under ``root``, sorted by id.

    Options and the root are checked, and the files found, before this returns.

    Parameters
    ----------
    root : str or Path
        Folder holding the AAM files, flat or in sub-folders.
    taxonomy : {None, "aam"}
        AAM has one vocabulary, :data:`~pipeline.readers.taxonomy.AAM_INSTRUMENTS`.
    split_ratios : (train, validation, test)
        Ratios of the deterministic split by song id (:func:`~pipeline.track.assign_splits`).
    merge_gap_s, min_event_s : float
        Optional event smoothing (see :class:`~pipeline.readers.labels.EventOptions`).
    events_from : {"onsets", "midi"}
        Build activity from ``<id>_onsets.arff`` (default) or from ``<id>_<Instrument>.mid``.
    dataset : str
        Name written to ``Track.dataset`` (``"demo"`` for the generated corpus).
    hash_cache : SourceHashCache, optional
        Hashes of unchanged files from an earlier run (see :class:`~pipeline.readers.files.SourceHashCache`).
    stems : bool
        Hash the stems' audio into the track's sources (for stores that hold stem features or
        labels derived from stem audio).

    Raises
    ------
    DatasetError
        ``root`` is not a directory or holds no AAM song, or an option is invalid.
    """
    root = check_root(root, dataset)
    vocabulary = fixed_taxonomy("aam", taxonomy, AAM_INSTRUMENTS)
    options = EventOptions(merge_gap_s=merge_gap_s, min_event_s=min_event_s)
    if events_from not in ("onsets", "midi"):
        raise DatasetError(f"events_from must be 'onsets' or 'midi', got {events_from!r}")
    deterministic_split("check", split_ratios)  # validates the ratios before any work
    index = index_files(root)
    ids = song_ids(index)
    if not ids:
        raise DatasetError(
            f"{root}: no AAM song found (no <id>_onsets.arff or <id>_mix.flac under it); check the path"
        )
    splits = assign_splits(ids, split_ratios)
    return TrackScan((
        read_song(root, index, track_id, vocabulary.classes, options, events_from, splits[track_id], dataset,
                  hash_cache=hash_cache, stems=stems)
        for track_id in ids
    ), len(ids))


def read_song(
    root: Path,
    index: dict[str, list[Path]],
    track_id: str,
    classes: tuple[str, ...],
    options: EventOptions,
    events_from: str,
    split: str,
    dataset: str,
    *,
    hash_cache: SourceHashCache | None = None,
    stems: bool = False,
) -> Track | TrackProblem:
    """One AAM song, or the problem that keeps it out (``split``: its split from :func:`read_aam`;
    ``stems``: see there)."""
    try:
        mix = find_one(index, [f"{track_id}_mix{ext}" for ext in MIX_EXTENSIONS], track_id)
        annotations = {
            kind: find_one(index, [f"{track_id}_{kind}.arff"], track_id) for kind in ANNOTATION_KINDS
        }
        stem_audio = {
            name: path
            for name in classes
            if (path := find_one(index, [f"{track_id}_{name}{ext}" for ext in MIX_EXTENSIONS], track_id))
        }
        midis = {name: path for name in classes if (path := find_one(index, [f"{track_id}_{name}.mid"], track_id))}
    except DatasetError as exc:
        return TrackProblem(track_id, root, str(exc))
    refused = outside_root_problem(track_id, [mix, *annotations.values(), *stem_audio.values(), *midis.values()],
                                   root)
    if refused is not None:
        return refused
    onsets_path = annotations["onsets"]
    if mix is None:
        where = onsets_path or root
        return TrackProblem(
            track_id, where, f"no mix audio {track_id}_mix.flac/.wav/.mp3 for song {track_id}; download the audio"
        )
    if onsets_path is None:
        return TrackProblem(
            track_id, mix, f"annotation {track_id}_onsets.arff is missing; download the AAM annotations"
        )
    header = audio_header(track_id, mix)
    if isinstance(header, TrackProblem):
        return header
    duration, sample_rate = header
    current = onsets_path
    confirmed_end = None  # the segments file's 'end', when it agrees with the onsets
    try:
        events, annotated_end = onset_events(onsets_path)
        used = [onsets_path, mix]
        if annotations["segments"] is not None:
            current = annotations["segments"]
            end = segments_end(current)
            if end is not None and annotated_end > end + END_TOLERANCE_S:
                raise DatasetError(
                    f"{onsets_path} ends at {annotated_end:.3f} s but the segments 'end' is {end:.3f} s; "
                    "the two annotations are from different songs"
                )
            if end is not None and annotated_end < end - END_TOLERANCE_S:
                current = onsets_path
                raise DatasetError(
                    f"{onsets_path}: the onsets end at {annotated_end:.3f} s but {annotations['segments'].name} "
                    f"says the song ends at {end:.3f} s; the onsets file is cut short: re-download the AAM "
                    "annotations"
                )
            confirmed_end = end
            used.append(current)
        if annotations["beatinfo"] is not None:
            current = annotations["beatinfo"]
            load_arff(current, data_optional=True)
            used.append(current)
        if events_from == "midi":
            if not midis:
                raise DatasetError(f"no <id>_<Instrument>.mid files for song {track_id}; use events_from='onsets'")
            events = []
            for name, path in midis.items():
                current = path
                notes = midi_note_intervals(path)
                events.extend(Event(name, on, off) for on, off in notes)
                annotated_end = max(annotated_end, max(off for _, off in notes))
            used.extend(midis.values())
        if stems:
            used.extend(stem_audio.values())
        current = mix
        hashes = hash_sources(used, root, cache=hash_cache)
    except (DatasetError, OSError) as exc:
        return TrackProblem(track_id, current, error_message(exc, current))
    if confirmed_end is None and events_from == "onsets" and annotated_end < duration - MAX_UNANNOTATED_TAIL_S:
        return TrackProblem(
            track_id, onsets_path,
            f"the onsets end at {annotated_end:.3f} s but the audio {mix.name} lasts {duration:.3f} s (more than "
            f"{MAX_UNANNOTATED_TAIL_S:g} s unannotated, and no segments file to confirm the end); the onsets file "
            "is cut short: re-download the AAM annotations",
        )
    if annotated_end > duration + END_TOLERANCE_S:
        log.warning("%s: annotations run to %.2f s but the audio lasts %.2f s; events are cut there",
                    mix, annotated_end, duration)
    cleaned = clean_events(events, options=options, end=duration)
    found = {name: Stem(name, path, name, None, tuple(e for e in cleaned if e.label == name))
             for name, path in stem_audio.items()}
    return Track(
        track_id=track_id,
        dataset=dataset,
        audio=mix,
        duration=duration,
        sample_rate=sample_rate,
        split=split,
        classes=classes,
        source_hashes=hashes,
        stems=found,
        **strong_label_fields(cleaned, classes),
    )
