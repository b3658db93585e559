"""A tiny generated Slakh-layout corpus, its store and a 2-epoch run, shared by the flow tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SONGS = 3
SECONDS = 3.0


def render_corpus(root: Path, *, songs: int = SONGS) -> Path:
    """``songs`` short demo songs in the Slakh layout (same seed: song i is the same every call)."""
    from pipeline.demo import generate_corpus

    made = generate_corpus(root, layout="slakh", songs=songs, seconds=SECONDS, seed=0, effects=False, workers=2)
    assert all("problem" not in song for song in made), made
    return root


@pytest.fixture(scope="session")
def corpus_template(tmp_path_factory) -> Path:
    """A rendered corpus; copy it (``copy_corpus``) before changing it."""
    return render_corpus(tmp_path_factory.mktemp("corpus") / "corpus")


@pytest.fixture
def copy_corpus(corpus_template, tmp_path):
    """Factory: a private copy of the template corpus at ``tmp_path / name``."""

    def copy(name: str = "corpus") -> Path:
        return Path(shutil.copytree(corpus_template, tmp_path / name))

    return copy


@pytest.fixture(scope="session")
def store_template(corpus_template, tmp_path_factory) -> str:
    """The template corpus extracted (default log-mel), in this process (no Dask)."""
    from features.registry import build_config
    from pipeline.extraction.driver import extract_dataset
    from pipeline.extraction.extract import FeatureTarget
    from pipeline.readers import read_dataset

    store = str(tmp_path_factory.mktemp("store") / "corpus.zarr")
    summary = extract_dataset(read_dataset("slakh", corpus_template), store,
                              targets=[FeatureTarget.from_config(build_config("logmel"))], workers=0,
                              progress=False)
    assert len(summary.done) == SONGS and not summary.failed, summary.text()
    return store


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect server for every flow test of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
