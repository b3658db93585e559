"""``instrec fetch-musicnn``: the musicnn checkpoints, taken out of the ``musicnn`` 0.1.0 wheel.

The wheel is downloaded from the package index with ``pip download musicnn==0.1.0 --no-deps``
(the package is never installed or imported: it pins NumPy < 1.17 and is TensorFlow 1 graph
code), its sha256 checked, and for each model the two checkpoint files and ``config.json``
are extracted to ``DEST/<model>/``, with the licence (``LICENSE.md``, ISC) and
``PROVENANCE.json`` (wheel and file sha256s).  Every checkpoint file must hash to the value in
:data:`features.musicnn_weights.CHECKPOINTS`; files are written under a temporary name and
renamed, so an interrupted fetch leaves no half file.  A destination whose files already
check out is left alone (``make setup`` runs this every time).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from features.musicnn_weights import CHECKPOINTS, DATA_FILE, INDEX_FILE, WHEEL, WHEEL_SHA256, MusicnnWeightsError
from pipeline.musicnn_options import default_weights_dir

REQUIREMENT = "musicnn==0.1.0"
LICENSE_IN_WHEEL = "musicnn-0.1.0.dist-info/LICENSE.md"
PIP_TIMEOUT_S = 300


@dataclass
class FetchResult:
    dest: Path
    fetched: bool  # False: everything was already there
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def expected_files() -> dict[str, str]:
    """Relative path under the destination -> expected sha256, for every checkpoint file."""
    out = {}
    for model, files in CHECKPOINTS.items():
        out[f"{model}/{INDEX_FILE}"] = files.index_sha256
        out[f"{model}/{DATA_FILE}"] = files.data_sha256
    return out


def weights_present(dest: str | Path) -> bool:
    """Whether every checkpoint file is under ``dest`` with its expected sha256."""
    dest = Path(dest)
    return all((dest / rel).is_file() and _sha256_file(dest / rel) == sha for rel, sha in expected_files().items())


def download_wheel(folder: Path) -> Path:
    """``pip download musicnn==0.1.0 --no-deps`` into ``folder`` (the configured index, e.g. PyPI)."""
    command = [sys.executable, "-m", "pip", "download", REQUIREMENT, "--no-deps", "--only-binary", ":all:",
               "--disable-pip-version-check", "-q", "-d", str(folder)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise MusicnnWeightsError(f"pip download {REQUIREMENT}: no answer in {PIP_TIMEOUT_S} s; is the package index "
                                  "reachable? (or pass --wheel PATH to a copy of the wheel)") from exc
    wheel = folder / WHEEL
    if done.returncode != 0 or not wheel.is_file():
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise MusicnnWeightsError(f"pip download {REQUIREMENT} failed ({last[0][:200]}); is the package index "
                                  "reachable? (or pass --wheel PATH to a copy of the wheel)")
    return wheel


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def extract_wheel(wheel: Path, dest: Path) -> dict[str, str]:
    """Check the wheel's sha256 and extract the checkpoints, configs and licence into ``dest``."""
    sha = _sha256_file(wheel)
    if sha != WHEEL_SHA256:
        raise MusicnnWeightsError(f"{wheel}: sha256 {sha} is not the expected {WHEEL_SHA256} of {WHEEL}; "
                                  "delete it and fetch it again")
    wanted = expected_files()
    written: dict[str, str] = {}
    with zipfile.ZipFile(wheel) as archive:
        for model in CHECKPOINTS:
            for name in (INDEX_FILE, DATA_FILE, "config.json"):
                rel = f"{model}/{name}"
                data = archive.read(f"musicnn/{rel}")
                digest = hashlib.sha256(data).hexdigest()
                if rel in wanted and digest != wanted[rel]:
                    raise MusicnnWeightsError(f"{wheel}!musicnn/{rel}: sha256 {digest} is not the expected {wanted[rel]}")
                _write_atomic(dest / rel, data)
                written[rel] = digest
        licence = archive.read(LICENSE_IN_WHEEL)
        _write_atomic(dest / "LICENSE.md", licence)
        written["LICENSE.md"] = hashlib.sha256(licence).hexdigest()
    provenance = {"source": f"{REQUIREMENT} from the package index ({WHEEL})", "wheel_sha256": sha,
                  "licence": "ISC (LICENSE.md), Copyright (c) Music Technology Group, Universitat Pompeu Fabra 2019",
                  "files": written}
    _write_atomic(dest / "PROVENANCE.json", (json.dumps(provenance, indent=1) + "\n").encode())
    return written


def fetch_musicnn_weights(dest: str | Path | None = None, *, wheel: str | Path | None = None,
                          force: bool = False) -> FetchResult:
    """Put the musicnn checkpoints under ``dest`` (default :func:`default_weights_dir`).

    Raises
    ------
    MusicnnWeightsError
        The index cannot be reached, or a file does not hash as expected.
    """
    dest = default_weights_dir() if dest is None else Path(dest)
    if not force and weights_present(dest):
        return FetchResult(dest=dest, fetched=False)
    if wheel is not None:
        return FetchResult(dest=dest, fetched=True, files=extract_wheel(Path(wheel), dest))
    with tempfile.TemporaryDirectory(prefix="instrec-musicnn-") as tmp:
        return FetchResult(dest=dest, fetched=True, files=extract_wheel(download_wheel(Path(tmp)), dest))
