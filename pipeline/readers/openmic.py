"""OpenMIC-2018 reader (weak clip labels).

Layout of the ``openmic-2018-v1.0.0`` release: ``class-map.json`` (class -> column),
``openmic-2018-aggregated-labels.csv`` (``sample_key,instrument,relevance,num_responses``)
and/or ``openmic-2018.npz`` (``Y_true``, ``Y_mask``, ``sample_key``),
``partitions/split01_{train,test}.csv`` (one key per line, no header),
``audio/XXX/<key>.ogg`` and ``vggish/XXX/<key>.json`` (``XXX`` = the key's first three
characters).  When both label files exist the CSV is read.  The text files may start with a
UTF-8 byte-order mark (as spreadsheet programs write them).

Labels are weak: each annotated (clip, class) pair has a relevance in [0, 1] (positive when
>= 0.5) which becomes the clip label, with ``clip_mask`` True.  Pairs nobody annotated are
masked (``clip_mask`` False, value 0.0): unknown, never negative.  There is no timing, so
``events`` is empty, ``strong_labels`` is False and ``dominant`` is None (relevance says
whether an instrument is present, not for how long).

Splits: keys in ``split01_test`` are ``test``; keys in ``split01_train`` are ``train``
except a deterministic ``validation_fraction`` of them (by key hash, stable as keys are
added) which become ``validation``.  Keys in neither file get the deterministic split of
``split_ratios``.  The tracks are the keys that have labels; a key with labels but no
audio is reported as a problem.

Source hashes: the audio file, and per key a digest of its label values (keyed
``<labels file>#<key>``), so editing one clip's labels changes that clip's hash only.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
import zipfile
from functools import partial
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from pipeline.readers.files import (
    SourceHashCache, audio_header, check_inside_root, check_root, outside_root_problem, relative_name,
)
from pipeline.readers.taxonomy import OPENMIC_CLASSES, fixed_taxonomy
from pipeline.track import DatasetError, Track, TrackProblem, TrackScan, deterministic_split, file_hash

CLASS_MAP = "class-map.json"
LABELS_CSV = "openmic-2018-aggregated-labels.csv"
LABELS_NPZ = "openmic-2018.npz"
PARTITIONS = {"train": "partitions/split01_train.csv", "test": "partitions/split01_test.csv"}
AUDIO_EXTENSIONS = (".ogg", ".flac", ".wav", ".mp3")
SAMPLE_KEY = re.compile(r"^[0-9]+_[0-9]+$")


def openmic_vggish_path(root: str | Path, key: str) -> Path:
    """Path of the official VGGish features of one clip: ``vggish/<key[:3]>/<key>.json``."""
    return Path(root) / "vggish" / key[:3] / f"{key}.json"


def openmic_audio_path(root: str | Path, key: str) -> Path | None:
    """The clip's audio ``audio/<key[:3]>/<key>.ogg`` (or another audio extension), if any."""
    folder = Path(root) / "audio" / key[:3]
    for ext in AUDIO_EXTENSIONS:
        path = folder / f"{key}{ext}"
        if path.is_file():
            return path
    return None


def load_class_map(root: Path) -> tuple[str, ...]:
    """Class names in column order from ``class-map.json`` (built-in list when absent)."""
    path = root / CLASS_MAP
    if not path.is_file():
        return OPENMIC_CLASSES
    check_inside_root(path, root)
    expected = "expected a JSON object mapping each class name to its column index; re-download it"
    try:
        mapping = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the class map ({exc.strerror}); re-download it") from exc
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text (byte {exc.start}); {expected}") from exc
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}; {expected}") from exc
    try:
        order = sorted(mapping.items(), key=lambda item: int(item[1]))
    except (ValueError, TypeError, AttributeError) as exc:
        raise DatasetError(f"{path}: {expected}") from exc
    if [int(index) for _, index in order] != list(range(len(order))):
        raise DatasetError(f"{path}: column indices are not 0..{len(order) - 1}; re-download it")
    return tuple(name for name, _ in order)


def load_labels_csv(path: Path, classes: tuple[str, ...]) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """Relevance per key and class from the aggregated-labels CSV.

    Returns
    -------
    labels : dict
        key -> {class: relevance} for the annotated pairs.
    problems : dict
        key -> message for keys with an invalid row (unknown class, bad relevance).

    Raises
    ------
    DatasetError
        The file cannot be read or lacks the ``sample_key``/``instrument``/``relevance`` columns.
    """
    labels: dict[str, dict[str, float]] = {}
    problems: dict[str, str] = {}
    known = set(classes)
    reader = None
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = {"sample_key", "instrument", "relevance"} - set(reader.fieldnames or ())
            if missing:
                raise DatasetError(
                    f"{path}: header lacks column(s) {', '.join(sorted(missing))}; "
                    "expected sample_key,instrument,relevance,num_responses"
                )
            for row in reader:
                key, instrument = (row["sample_key"] or "").strip(), (row["instrument"] or "").strip()
                where = f"line {reader.line_num}"
                try:
                    relevance = float(row["relevance"])
                except (TypeError, ValueError):
                    relevance = math.nan
                if instrument not in known:
                    problems.setdefault(key, f"{where}: unknown instrument; expected one of {', '.join(classes)}")
                elif not 0.0 <= relevance <= 1.0:
                    problems.setdefault(key, f"{where}: the relevance is not a probability in [0, 1]")
                elif instrument in labels.get(key, {}):
                    problems.setdefault(key, f"{where}: second row for ({key}, {instrument})")
                else:
                    labels.setdefault(key, {})[instrument] = relevance
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the labels ({exc.strerror}); re-download it") from exc
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: the labels are not UTF-8 text; re-download it") from exc
    except csv.Error as exc:  # the csv module's messages name the problem, not the row's text
        where = f"line {reader.line_num}: " if reader is not None else ""
        raise DatasetError(f"{path}: {where}not valid CSV ({exc}); re-download it") from exc
    return labels, problems


def load_labels_npz(path: Path, classes: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Relevance per key and class from ``openmic-2018.npz`` (``Y_true`` where ``Y_mask``)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            y_true, y_mask = np.asarray(data["Y_true"], dtype=float), np.asarray(data["Y_mask"], dtype=bool)
            keys = [str(key) for key in data["sample_key"]]
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DatasetError(
            f"{path}: cannot read the arrays Y_true, Y_mask and sample_key ({type(exc).__name__}); re-download it"
        ) from exc
    if y_true.shape != (len(keys), len(classes)) or y_mask.shape != y_true.shape:
        raise DatasetError(
            f"{path}: Y_true {y_true.shape} / Y_mask {y_mask.shape} do not match {len(keys)} keys x "
            f"{len(classes)} classes of class-map.json"
        )
    return {
        key: {name: float(y_true[i, j]) for j, name in enumerate(classes) if y_mask[i, j]}
        for i, key in enumerate(keys)
    }


def load_partition(path: Path) -> set[str]:
    """Keys listed in a partition file (one per line, no header); empty when absent."""
    if not path.is_file():
        return set()
    try:
        return {line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()}
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the partition ({exc.strerror}); re-download it") from exc
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: the partition is not UTF-8 text (byte {exc.start}); re-download it") from exc


def labels_digest(labels: dict[str, float]) -> str:
    """sha256 of one clip's label values, independent of row order."""
    return hashlib.sha256(json.dumps(sorted(labels.items())).encode()).hexdigest()


def read_openmic(
    root: str | Path,
    *,
    taxonomy: str | None = None,
    split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    validation_fraction: float = 0.1,
    dataset: str = "openmic",
    hash_cache: SourceHashCache | None = None,
) -> Iterator[Track | TrackProblem]:
    """One Track (or TrackProblem) per labelled OpenMIC-2018 clip, sorted by key.

    Options, the root and the label files are checked before this returns.

    Parameters
    ----------
    root : str or Path
        The unpacked ``openmic-2018`` folder.
    taxonomy : {None, "openmic"}
        OpenMIC has one vocabulary, the 20 classes of ``class-map.json``.
    split_ratios : (train, validation, test)
        For keys that no partition file lists.
    validation_fraction : float
        Share of ``split01_train`` keys that become ``validation`` (0 keeps them all in train).
    hash_cache : SourceHashCache, optional
        Hashes of unchanged files from an earlier run (see :class:`~pipeline.readers.files.SourceHashCache`).

    Raises
    ------
    DatasetError
        ``root`` is not a directory, holds no label file, or a whole-dataset file is broken.
    """
    root = check_root(root, dataset)
    classes = fixed_taxonomy("openmic", taxonomy, load_class_map(root)).classes
    if not 0.0 <= validation_fraction < 1.0:
        raise DatasetError(f"validation_fraction must be in [0, 1), got {validation_fraction!r}")
    deterministic_split("check", split_ratios)
    csv_path, npz_path = root / LABELS_CSV, root / LABELS_NPZ
    partitions = {split: root / name for split, name in PARTITIONS.items()}
    for path in (csv_path, npz_path, *partitions.values()):
        if path.is_file():
            check_inside_root(path, root)
    problems: dict[str, str] = {}
    if csv_path.is_file():
        labels_path = csv_path
        labels, problems = load_labels_csv(csv_path, classes)
    elif npz_path.is_file():
        labels_path = npz_path
        labels = load_labels_npz(npz_path, classes)
    else:
        raise DatasetError(f"{root}: no OpenMIC labels ({LABELS_CSV} or {LABELS_NPZ}); check the path")
    split_of = partial(
        openmic_split,
        train=load_partition(partitions["train"]),
        test=load_partition(partitions["test"]),
        validation_fraction=validation_fraction,
        split_ratios=split_ratios,
    )
    return TrackScan(_read_clips(root, labels_path, labels, problems, split_of, classes, dataset, hash_cache),
                     len(set(labels) | set(problems)))


def openmic_split(
    key: str,
    *,
    train: set[str],
    test: set[str],
    validation_fraction: float,
    split_ratios: tuple[float, float, float],
) -> str:
    """``test`` for split01_test keys; ``train`` or (a stable share) ``validation`` for
    split01_train keys; the deterministic split of ``split_ratios`` for any other key."""
    if key in test:
        return "test"
    if key in train:
        return deterministic_split(key, (1.0 - validation_fraction, validation_fraction, 0.0))
    return deterministic_split(key, split_ratios)


def _read_clips(
    root: Path,
    labels_path: Path,
    labels: dict[str, dict[str, float]],
    problems: dict[str, str],
    split_of: Callable[[str], str],
    classes: tuple[str, ...],
    dataset: str,
    hash_cache: SourceHashCache | None = None,
) -> Iterator[Track | TrackProblem]:
    labels_name = relative_name(labels_path, root)
    for key in sorted(set(labels) | set(problems)):
        if key in problems:
            yield TrackProblem(key, labels_path, problems[key])
            continue
        if not SAMPLE_KEY.match(key):
            yield TrackProblem(key, labels_path, "the sample key is not of the form <track>_<start> (digits_digits)")
            continue
        audio = openmic_audio_path(root, key)
        if audio is None:
            yield TrackProblem(
                key, root / "audio" / key[:3] / f"{key}.ogg",
                "audio file is missing for a labelled clip; download the OpenMIC audio",
            )
            continue
        refused = outside_root_problem(key, [audio], root)
        if refused is not None:
            yield refused
            continue
        header = audio_header(key, audio)
        if isinstance(header, TrackProblem):
            yield header
            continue
        duration, sample_rate = header
        try:
            audio_hash = hash_cache.file_hash(audio) if hash_cache is not None else file_hash(audio)
        except OSError as exc:
            yield TrackProblem(key, audio, f"cannot read the audio ({exc})")
            continue
        observed = labels[key]
        yield Track(
            track_id=key,
            dataset=dataset,
            audio=audio,
            duration=duration,
            sample_rate=sample_rate,
            split=split_of(key),
            classes=classes,
            clip_labels={name: observed.get(name, 0.0) for name in classes},
            clip_mask={name: name in observed for name in classes},
            dominant=None,
            source_hashes={
                relative_name(audio, root): audio_hash,
                f"{labels_name}#{key}": labels_digest(observed),
            },
            strong_labels=False,
        )
