import json

import numpy as np

from instrec.cli import main


def test_info_prints_splits_sets_classes_and_density(small_store, capsys):
    url, truth = small_store
    assert main(["store", "info", url]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["tracks"] == 4 and info["tracks_per_split"] == {"test": 2, "train": 2}
    assert info["classes"] == ["flute", "bass", "drums"] and info["dataset"] == "folder"
    (key, fs), = info["feature_sets"].items()
    assert fs["params"]["n_mels"] == 128 and fs["tracks"] == 4
    assert fs["frames"] == sum(t[0].shape[0] for t in truth.values())
    all_labels = np.concatenate([t[1] for t in truth.values()])
    expected = all_labels.mean(axis=0)
    for i, name in enumerate(info["classes"]):
        assert abs(info["label_density"][name]["frame"] - expected[i]) < 1e-3
        assert info["label_density"][name]["clip"] == 1.0
