"""File handling shared by the readers: finding files, checking paths, hashing sources."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from pipeline.audio import audio_info
from pipeline.track import DatasetError, TrackProblem, file_hash

log = logging.getLogger(__name__)


def printable(name: str) -> str:
    """``name`` with bytes that are not UTF-8 written as ``\\xff`` escapes.

    File names on POSIX are bytes; Python keeps undecodable ones as lone surrogates, which
    cannot be printed, written to JSON as text or used as an S3 key.  Track ids and source
    names go through this, so they are always valid Unicode (the file is still opened by
    its real name).
    """
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def relative_name(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` as a printable POSIX string (the key of ``source_hashes``)."""
    try:
        return printable(path.relative_to(root).as_posix())
    except ValueError:
        return printable(path.as_posix())


@dataclass
class SourceHashCache:
    """sha256 of source files from an earlier scan, trusted while a file's stat is unchanged.

    A file is re-hashed unless its absolute path, size, modification time, change time and
    inode all equal those recorded with its hash (any rewrite, ``touch``, copy or replacement
    changes one of them), so an unchanged dataset is re-scanned with one ``stat`` per file
    instead of reading every byte.  The extraction driver loads the entries a store recorded
    (:meth:`load`) and saves them back (:meth:`to_json`); the readers take the cache as their
    ``hash_cache`` option.  Pass a fresh instance per run.

    Attributes
    ----------
    known : dict
        Absolute path -> ``[size, mtime_ns, ctime_ns, inode, sha256]`` from earlier runs.
    seen : dict
        The same for every file looked up in this run (what :meth:`to_json` saves).
    hashed, reused : int
        Files read and hashed / taken from ``known`` in this run.
    """

    known: dict[str, list] = field(default_factory=dict)
    seen: dict[str, list] = field(default_factory=dict)
    hashed: int = 0
    reused: int = 0

    def load(self, entries: Mapping[str, list] | None) -> None:
        """Add entries saved by :meth:`to_json` (malformed ones are ignored: they only cost a re-hash)."""
        for path, entry in (entries or {}).items():
            if isinstance(entry, list) and len(entry) == 5 and isinstance(entry[4], str):
                self.known[path] = entry

    def file_hash(self, path: Path) -> str:
        """sha256 of ``path``, from the cache when its stat is unchanged (raises OSError like reading)."""
        key = os.path.abspath(path)
        st = os.stat(path)
        stat = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        entry = self.known.get(key)
        if entry is not None and entry[:4] == stat:
            self.reused += 1
            digest = entry[4]
        else:
            digest = file_hash(path)
            after = os.stat(path)
            if [after.st_size, after.st_mtime_ns, after.st_ctime_ns, after.st_ino] != stat:
                return digest  # changed while being read: do not remember it
            self.hashed += 1
        self.seen[key] = [*stat, digest]
        return digest

    def to_json(self) -> dict[str, list]:
        """The entries of the files seen in this run (files gone from the dataset drop out)."""
        return dict(self.seen)


def hash_sources(paths: Iterable[Path], root: Path, *, cache: SourceHashCache | None = None) -> dict[str, str]:
    """Relative path -> sha256 of each file (through ``cache`` when given)."""
    hasher = cache.file_hash if cache is not None else file_hash
    return {relative_name(path, root): hasher(path) for path in paths}


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
    resource forks) are skipped.  Not following directory links rules out link loops; each
    directory link skipped is logged as a warning naming it.  File links are yielded: one
    that points inside the root is read as its target; the readers refuse one that leads
    outside (:func:`check_inside_root`); a broken or looping one is reported when read.
    """
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames:
            link = Path(folder) / name
            if not name.startswith(".") and link.is_symlink():
                log.warning("%s: directory link not followed (links to folders are skipped so that a link loop "
                            "cannot trap the scan); copy or move the folder into the dataset instead",
                            printable(str(link)))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(folder) / name
            if path.is_file() or path.is_symlink():
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
    """True when ``path`` (after resolving links and ``..``) lies within ``root``; False for a link loop."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a link loop (RuntimeError before Python 3.13)
        return False


def check_inside_root(path: Path, root: Path) -> None:
    """Refuse a dataset file that resolves outside the dataset root, before anything reads it.

    A symbolic link to a file elsewhere (``metadata.yaml -> ~/.aws/credentials``), or a path
    through a linked folder or ``..``, would let a dataset make instrec read, hash and quote
    any file the user can read.  The same rule as for directory links: only what lies inside
    the root is read.  A link loop passes (nothing can be read through it; opening it reports
    the loop).

    Raises
    ------
    DatasetError
        ``path`` resolves outside ``root``; the message names ``path`` (the link), not its target.
    """
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):
        return
    if not resolved.is_relative_to(root.resolve()):
        raise DatasetError(
            f"{path}: links to a file outside the dataset root {root}; refusing to read it "
            "(links out of the dataset are not followed: copy the file into the dataset instead)"
        )


def outside_root_problem(track_id: str, paths: Iterable[Path | None], root: Path) -> TrackProblem | None:
    """The problem of the first of ``paths`` (None entries skipped) that resolves outside ``root``."""
    for path in paths:
        if path is None:
            continue
        try:
            check_inside_root(path, root)
        except DatasetError as exc:
            return TrackProblem(track_id, path, error_message(exc, path))
    return None
