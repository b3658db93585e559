import pytest

from features.registry import build_config
from pipeline.extraction import FeatureTarget, extract_dataset


@pytest.mark.slow
def test_local_dask_cluster_equals_in_process(tmp_path, make_track, same_content):
    tracks = [make_track(f"d{i}", duration=1.5 + 0.5 * i, split=["train", "test"][i % 2]) for i in range(5)]
    targets = [FeatureTarget.from_config(build_config("logmel")),
               FeatureTarget.from_config(build_config("logmel-vggish"))]
    dask_run = extract_dataset(tracks, str(tmp_path / "dask"), targets=targets, workers=2, progress=False)
    local_run = extract_dataset(tracks, str(tmp_path / "local"), targets=targets, workers=0, progress=False)
    assert sorted(dask_run.done) == sorted(local_run.done) == [f"d{i}" for i in range(5)]
    same_content(str(tmp_path / "local"), str(tmp_path / "dask"))
