"""Slakh2100 / Slakh2100-redux / BabySlakh reader.

Layout: ``TrackXXXXX/{metadata.yaml, all_src.mid, MIDI/SXX.mid, stems/SXX.flac|wav,
mix.flac|wav}``, either under ``train/``, ``validation/``, ``test/`` and ``omitted/`` (the
folder is the split) or flat (then the split is deterministic from the track id,
:func:`~pipeline.track.assign_splits`: 3 flat tracks or more always give a validation and a
test track).  A stem listed twice in ``metadata.yaml`` (YAML would keep the last entry
silently) refuses the track.

A stem counts when both its MIDI and its audio file exist: the ``audio_rendered`` and
``midi_saved`` flags in ``metadata.yaml`` are not reliable (BabySlakh sets them all false).
``audio_dir`` / ``midi_dir`` in the metadata are relative to the track folder (BabySlakh,
``stems``) or start with the track's own name (redux, ``Track00001/stems``); both work, and
a directory that resolves outside the dataset root is refused, and so is any file (metadata,
mix, stem audio, MIDI) that links outside it.

Each counted stem's notes (pretty_midi, note on to note off) become events of the stem's
class in the chosen taxonomy (:mod:`pipeline.readers.taxonomy`); a class is active over the
union of its stems' notes.  Stems whose program has no class in the taxonomy are left out
of the labels (only possible with ``slakh34``).

Source hashes cover ``metadata.yaml``, the MIDI of every counted stem and the mix audio,
and with ``stems=True`` (stem features or stem-based labels are wanted) the stems' audio too.
Each counted stem is also a :class:`~pipeline.track.Stem` on the Track, with its own class,
program and cleaned notes.
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath
from typing import Iterator

import yaml

from pipeline.readers.files import (
    SourceHashCache,
    audio_header,
    check_inside_root,
    check_root,
    error_message,
    hash_sources,
    inside_root,
    outside_root_problem,
    walk_files,
)
from pipeline.readers.labels import EventOptions, clean_events, strong_label_fields
from pipeline.readers.midi import midi_note_intervals
from pipeline.readers.taxonomy import Taxonomy, slakh_taxonomy
from pipeline.track import (
    DatasetError, Event, Stem, Track, TrackProblem, TrackScan, assign_splits, deterministic_split,
)

log = logging.getLogger(__name__)

SPLIT_FOLDERS = ("train", "validation", "test", "omitted")
AUDIO_EXTENSIONS = (".flac", ".wav")


def yaml_document(text: str) -> tuple[object, yaml.Node | None]:
    """The YAML document in ``text`` (safe types only, as ``yaml.safe_load``) and its node tree.

    Raises
    ------
    yaml.YAMLError
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        return (loader.construct_document(node) if node is not None else None), node
    finally:
        loader.dispose()


def yaml_line(node: yaml.Node | None, *keys: object) -> int:
    """1-based line of the entry at the path ``keys`` of mapping keys (of the deepest one found)."""
    line = node.start_mark.line + 1 if node is not None else 1
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            break
        entry = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(key)), None)
        if entry is None:
            break
        line, node = entry[0].start_mark.line + 1, entry[1]
    return line


def duplicate_key(node: yaml.Node | None, path: tuple[str, ...] = ()) -> tuple[tuple[str, ...], int, int] | None:
    """The first mapping key written twice in a YAML node tree: (path of the key, line of its first
    and of its second entry), or None.  YAML loaders keep the last entry of a duplicate silently."""
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                line = key.start_mark.line + 1
                if key.value in first:
                    return (*path, key.value), first[key.value], line
                first[key.value] = line
            found = duplicate_key(value, (*path, key.value if isinstance(key, yaml.ScalarNode) else "?"))
            if found is not None:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found = duplicate_key(item, path)
            if found is not None:
                return found
    return None


def yaml_error_message(exc: yaml.YAMLError) -> str:
    """Where a YAML error is, without the excerpt of the file that PyYAML's message quotes."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return f"not valid YAML at line {mark.line + 1}, column {mark.column + 1}"
    position = getattr(exc, "position", None)
    return "not valid YAML" + (f" (character {position + 1})" if position is not None else "")


def load_metadata(path: Path) -> dict:
    """``metadata.yaml`` as a dict, checked for the fields the reader needs.

    Messages name the file, the line and what was expected, never the file's content.

    Raises
    ------
    DatasetError
        Unreadable YAML, no ``stems`` mapping, or a stem without ``program_num``.
    """
    unreadable = f"{path}: cannot read the track metadata"
    try:
        metadata, node = yaml_document(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise DatasetError(f"{unreadable} ({exc.strerror}); re-download the track") from exc
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{unreadable}: not UTF-8 text (byte {exc.start}); re-download the track") from exc
    except yaml.YAMLError as exc:
        raise DatasetError(
            f"{unreadable}: {yaml_error_message(exc)}; expected a mapping with 'stems' and one entry per stem "
            "(program_num, is_drum); re-download the track"
        ) from exc
    if not isinstance(metadata, dict):
        raise DatasetError(f"{path}: expected a YAML mapping with a 'stems' entry; re-download the track")
    duplicate = duplicate_key(node)
    if duplicate is not None:
        keys, first, second = duplicate
        what = f"stem {keys[1]}" if len(keys) == 2 and keys[0] == "stems" else f"key {'.'.join(keys)}"
        raise DatasetError(
            f"{path}: line {second}: {what} is listed twice (first at line {first}); which entry holds is "
            "ambiguous: keep one of them or re-download the track"
        )
    stems = metadata.get("stems")
    if not isinstance(stems, dict) or not stems:
        raise DatasetError(f"{path}: field 'stems' is missing or empty; re-download the track")
    for name, stem in stems.items():
        if not isinstance(stem, dict) or "program_num" not in stem:
            raise DatasetError(
                f"{path}: line {yaml_line(node, 'stems', name)}: stem has no field 'program_num'; re-download the track"
            )
        try:
            int(stem["program_num"])
        except (TypeError, ValueError) as exc:
            raise DatasetError(
                f"{path}: line {yaml_line(node, 'stems', name, 'program_num')}: program_num is not a number; "
                "expected a General MIDI program 0-127"
            ) from exc
    for key in ("audio_dir", "midi_dir"):
        if metadata.get(key) is not None and not isinstance(metadata[key], str):
            raise DatasetError(
                f"{path}: line {yaml_line(node, key)}: field {key!r} should be a folder name, "
                f"got a {type(metadata[key]).__name__}"
            )
    return metadata


def resolve_track_dir(track_dir: Path, value: str, root: Path, field: str, metadata_path: Path) -> Path:
    """A metadata folder (``stems`` or ``Track00001/stems``) as a path inside ``root``."""
    parts = PurePosixPath(value.replace("\\", "/")).parts
    if parts and parts[0] == track_dir.name:
        parts = parts[1:]
    folder = track_dir.joinpath(*parts) if parts else track_dir
    if PurePosixPath(value).is_absolute() or not inside_root(folder, root):
        raise DatasetError(
            f"{metadata_path}: {field} is absolute or points outside the dataset root {root}; "
            "refusing to read it (expected a folder inside the track, like 'stems')"
        )
    return folder


def find_audio(folder: Path, stem: str) -> Path | None:
    """``<folder>/<stem>.flac`` or ``.wav``, whichever exists first."""
    for ext in AUDIO_EXTENSIONS:
        path = folder / f"{stem}{ext}"
        if path.is_file():
            return path
    return None


def track_dirs(root: Path) -> list[Path]:
    """Folders under ``root`` (or ``root`` itself) that hold a ``metadata.yaml``."""
    return sorted({path.parent for path in walk_files(root) if path.name == "metadata.yaml"})


def read_slakh(
    root: str | Path,
    *,
    taxonomy: str | None = None,
    split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    merge_gap_s: float = 0.0,
    min_event_s: float = 0.0,
    dataset: str = "slakh",
    hash_cache: SourceHashCache | None = None,
    stems: bool = False,
) -> Iterator[Track | TrackProblem]:
    """One Track (or TrackProblem) per Slakh track folder under ``root``.

    Options and the root are checked, and the track folders found, before this returns.

    Parameters
    ----------
    root : str or Path
        ``slakh2100_flac_redux/``, ``babyslakh_16k/``, one split folder or one track folder.
    taxonomy : {"inst_class", "program", "slakh34"}, optional
        Class vocabulary (default ``inst_class``, the 17 General MIDI families).
    split_ratios : (train, validation, test)
        Used only for tracks that are not under a split folder.
    merge_gap_s, min_event_s : float
        Optional event smoothing (see :class:`~pipeline.readers.labels.EventOptions`).
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
        ``root`` is not a directory or holds no track folder, or an option is invalid.
    """
    root = check_root(root, dataset)
    vocabulary = slakh_taxonomy(taxonomy)
    options = EventOptions(merge_gap_s=merge_gap_s, min_event_s=min_event_s)
    deterministic_split("check", split_ratios)
    folders = track_dirs(root)
    if not folders:
        raise DatasetError(f"{root}: no Slakh track found (no TrackXXXXX/metadata.yaml under it); check the path")
    return TrackScan(_read_tracks(root, folders, vocabulary, options, split_ratios, dataset, hash_cache, stems),
                     len(folders))


def _read_tracks(
    root: Path,
    folders: list[Path],
    vocabulary: Taxonomy,
    options: EventOptions,
    split_ratios: tuple[float, float, float],
    dataset: str,
    hash_cache: SourceHashCache | None = None,
    stems: bool = False,
) -> Iterator[Track | TrackProblem]:
    seen: dict[str, Path] = {}
    # Tracks outside the split folders (BabySlakh, a flat copy) share out the deterministic split.
    flat_splits = assign_splits([f.name for f in folders if f.parent.name not in SPLIT_FOLDERS], split_ratios)
    for folder in folders:
        track_id = folder.name
        if track_id in seen:
            yield TrackProblem(
                track_id, folder, f"track id {track_id} also used by {seen[track_id]}; keep one copy"
            )
            continue
        seen[track_id] = folder
        split = folder.parent.name if folder.parent.name in SPLIT_FOLDERS else flat_splits[track_id]
        yield read_track(root, folder, vocabulary, options, split, dataset, hash_cache=hash_cache, stems=stems)


def read_track(
    root: Path,
    folder: Path,
    vocabulary: Taxonomy,
    options: EventOptions,
    split: str,
    dataset: str,
    *,
    hash_cache: SourceHashCache | None = None,
    stems: bool = False,
) -> Track | TrackProblem:
    """One Slakh track folder, or the problem that keeps it out (``split``: the track's split;
    ``stems``: see :func:`read_slakh`)."""
    track_id = folder.name
    metadata_path = folder / "metadata.yaml"
    try:
        check_inside_root(metadata_path, root)
        metadata = load_metadata(metadata_path)
        audio_dir = resolve_track_dir(folder, metadata.get("audio_dir") or "stems", root, "audio_dir", metadata_path)
        midi_dir = resolve_track_dir(folder, metadata.get("midi_dir") or "MIDI", root, "midi_dir", metadata_path)
    except DatasetError as exc:
        return TrackProblem(track_id, metadata_path, error_message(exc, metadata_path))
    mix = find_audio(folder, "mix")
    if mix is None:
        return TrackProblem(track_id, folder / "mix.flac", "mix audio (mix.flac or mix.wav) is missing; download it")
    refused = outside_root_problem(track_id, [mix], root)
    if refused is not None:
        return refused
    header = audio_header(track_id, mix)
    if isinstance(header, TrackProblem):
        return header
    duration, sample_rate = header

    events: list[Event] = []
    found: dict[str, Stem] = {}
    used = [metadata_path]
    for stem_name in sorted(metadata["stems"]):
        stem = metadata["stems"][stem_name]
        midi_path = midi_dir / f"{stem_name}.mid"
        audio_path = find_audio(audio_dir, str(stem_name))
        if audio_path is None or not midi_path.is_file():
            continue  # not rendered or not saved: the flags in metadata.yaml are not trusted
        refused = outside_root_problem(track_id, [audio_path, midi_path], root)
        if refused is not None:
            return refused
        is_drum = bool(stem.get("is_drum", False))
        program = 128 if is_drum else int(stem["program_num"])
        label = vocabulary.class_of_program(int(stem["program_num"]), is_drum=is_drum)
        try:
            notes = midi_note_intervals(midi_path)
        except DatasetError as exc:
            return TrackProblem(track_id, midi_path, error_message(exc, midi_path))
        used.append(midi_path)
        stem_events = [] if label is None else [Event(label, onset, offset) for onset, offset in notes]
        found[str(stem_name)] = Stem(str(stem_name), audio_path, label, program,
                                     clean_events(stem_events, options=options, end=duration))
        if label is None:
            log.debug("%s: program %s has no %s class; stem left out of the labels",
                      midi_path, stem["program_num"], vocabulary.name)
            continue
        events.extend(stem_events)
    if not found:
        return TrackProblem(
            track_id, metadata_path, f"no stem has both its MIDI in {midi_dir} and its audio in {audio_dir}"
        )
    if stems:
        used.extend(stem.audio for stem in found.values())
    try:
        hashes = hash_sources([*used, mix], root, cache=hash_cache)
    except OSError as exc:
        return TrackProblem(track_id, folder, f"cannot read a source file ({exc})")
    cleaned = clean_events(events, options=options, end=duration)
    return Track(
        track_id=track_id,
        dataset=dataset,
        audio=mix,
        duration=duration,
        sample_rate=sample_rate,
        split=split,
        classes=vocabulary.classes,
        source_hashes=hashes,
        stems=found,
        **strong_label_fields(cleaned, vocabulary.classes),
    )
