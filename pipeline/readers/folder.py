"""Reader for any folder of audio files (unlabelled songs to predict on).

Every ``.wav``, ``.flac``, ``.ogg``, ``.mp3`` (and ``.aiff``) file under the root, at any
depth, is one track; other files are skipped silently, and so are hidden files such as
macOS ``._song.wav`` resource forks.  Directory links are not followed (no link loops; a
warning names each one); a file link that leads outside the root, is broken or loops is
reported as a problem.
The track id is the path relative to the root without its extension; when two files differ
only by extension (``a.wav``, ``a.flac``) both keep their extension in the id.  Bytes of a
file name that are not UTF-8 are escaped in the id (``caf\\xe9.wav`` -> ``caf\\xe9``).
The file type is read from the content, so a WAV named ``.flac`` is read as WAV.

Tracks are unlabelled: no classes, no events, every clip label unknown.  Their split is
``test`` (they are for prediction) unless ``split="deterministic"`` asks for the
track-id split (:func:`~pipeline.track.assign_splits`).  Source hashes cover the audio file.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Iterator

from pipeline.audio import AUDIO_EXTENSIONS
from pipeline.readers.files import (
    SourceHashCache, audio_header, check_root, outside_root_problem, relative_name, walk_files,
)
from pipeline.track import (
    SPLITS, DatasetError, Track, TrackProblem, TrackScan, assign_splits, deterministic_split, file_hash,
)


def read_folder(
    root: str | Path,
    *,
    taxonomy: str | None = None,
    split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    split: str = "test",
    dataset: str = "folder",
    hash_cache: SourceHashCache | None = None,
) -> Iterator[Track | TrackProblem]:
    """One unlabelled Track (or TrackProblem) per audio file under ``root``.

    Options and the root are checked, and the files found, before this returns.

    Parameters
    ----------
    root : str or Path
        Any folder.
    taxonomy : None
        Folders have no labels, hence no vocabulary.
    split : str
        ``"test"`` (default), ``"train"``, ``"validation"``, or ``"deterministic"`` to
        split by track id with ``split_ratios``.
    hash_cache : SourceHashCache, optional
        Hashes of unchanged files from an earlier run (see :class:`SourceHashCache`).

    Raises
    ------
    DatasetError
        ``root`` is not a directory or holds no audio file.
    """
    root = check_root(root, dataset)
    if taxonomy is not None:
        raise DatasetError(f"a folder of audio files has no labels, so no taxonomy; got {taxonomy!r}")
    if split not in (*SPLITS, "deterministic"):
        raise DatasetError(f"split must be one of {', '.join(SPLITS)} or 'deterministic', got {split!r}")
    deterministic_split("check", split_ratios)
    files = [path for path in walk_files(root) if path.suffix.lower() in AUDIO_EXTENSIONS]
    if not files:
        raise DatasetError(
            f"{root}: no audio file ({', '.join(AUDIO_EXTENSIONS)}) found under it; check the path"
        )
    return TrackScan(_read_files(root, files, split, split_ratios, dataset, hash_cache), len(files))


def _read_files(
    root: Path, files: list[Path], split: str, split_ratios: tuple[float, float, float], dataset: str,
    hash_cache: SourceHashCache | None,
) -> Iterator[Track | TrackProblem]:
    stems = Counter(PurePosixPath(relative_name(path, root)).with_suffix("").as_posix() for path in files)
    names = [relative_name(path, root) for path in files]
    ids = [name if stems[stem] > 1 else stem
           for name, stem in ((name, PurePosixPath(name).with_suffix("").as_posix()) for name in names)]
    splits = assign_splits(ids, split_ratios) if split == "deterministic" else {}
    for path, name, track_id in zip(files, names, ids):
        refused = outside_root_problem(track_id, [path], root)
        if refused is not None:
            yield refused
            continue
        header = audio_header(track_id, path)
        if isinstance(header, TrackProblem):
            yield header
            continue
        duration, sample_rate = header
        try:
            hashes = {name: hash_cache.file_hash(path) if hash_cache is not None else file_hash(path)}
        except OSError as exc:
            yield TrackProblem(track_id, path, f"cannot read the audio ({exc})")
            continue
        yield Track(
            track_id=track_id,
            dataset=dataset,
            audio=path,
            duration=duration,
            sample_rate=sample_rate,
            split=splits.get(track_id, split),
            classes=(),
            source_hashes=hashes,
            strong_labels=False,
        )
