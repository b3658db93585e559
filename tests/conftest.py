"""Fixtures shared by several test packages."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def musicnn_weights_dir():
    """The folder of the real musicnn checkpoints; skips the test when they are not there."""
    from pipeline.musicnn_fetch import weights_present
    from pipeline.musicnn_options import ENV_DIR, default_weights_dir

    folder = default_weights_dir()
    if not weights_present(folder):
        pytest.skip(f"musicnn weights not found in {folder}: run `instrec fetch-musicnn` or `make musicnn-weights` "
                    f"(downloads the musicnn 0.1.0 wheel from the package index), or set {ENV_DIR} to a copy")
    return folder
