"""File handling shared by the readers: finding files, checking paths, hashing sources."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

from pipeline.audio import audio_info
from pipeline.track import DatasetError, TrackProblem, file_hash


def relative_name(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` as a POSIX string (the key of ``source_hashes``)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def hash_sources(paths: Iterable[Path], root: Path) -> dict[str, str]:
    """Relative path -> sha256 of each file."""
    return {relative_name(path, root): file_hash(path) for path in paths}


def error_message(exc: Exception, path: Path) -> str:
    """An error's message without a leading ``"<path>: "`` (TrackProblem prints the path)."""
    text = str(exc)
    prefix = f"{path}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def audio_header(track_id: str, path: Path) -> tuple[float, int] | TrackProblem:
    """(duration, sample rate) from the header, or the problem with the file."""
    try:
        info = audio_info(path)
    except DatasetError as exc:
        return TrackProblem(track_id, path, error_message(exc, path))
    return info.duration, info.sample_rate


def walk_files(root: Path) -> Iterator[Path]:
    """Every regular file under ``root``, sorted, without following directory symlinks.

    Hidden files and folders (names starting with ``.``, such as macOS ``._x.wav``
    resource forks) are skipped.  Not following directory links rules out link loops.
    """
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(folder) / name
            if path.is_file():
                yield path


def check_root(root: str | Path, dataset: str) -> Path:
    """The dataset root as a Path; raises DatasetError when it is not a directory."""
    path = Path(root).expanduser()
    if not path.exists():
        raise DatasetError(f"{path}: dataset root does not exist; check the path given for {dataset}")
    if not path.is_dir():
        raise DatasetError(f"{path}: dataset root is not a directory; pass the folder that holds the {dataset} files")
    return path


def inside_root(path: Path, root: Path) -> bool:
    """True when ``path`` (after resolving links and ``..``) lies within ``root``."""
    return path.resolve().is_relative_to(root.resolve())
