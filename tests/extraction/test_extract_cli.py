import json

from instrec.cli import main
from storage.store import open_store
from storage.verify import verify_store


def test_extract_command_on_a_folder_then_incremental(tmp_path, make_track, capsys):
    for name in ("one", "two"):
        make_track(name, duration=2.0)
    root, url = str(tmp_path / "audio"), str(tmp_path / "store")
    args = ["extract", "--dataset", "folder", root, "--store", url, "--workers", "0", "--no-progress",
            "--features", "logmel,logmel-vggish"]
    assert main(args) == 0
    assert "2 done, 0 skipped unchanged, 0 failed" in capsys.readouterr().out
    assert main([*args, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["done"] == 0 and summary["skipped_unchanged"] == 2
    store = open_store(url)
    assert store.classes == [] and len(store.feature_sets()) == 2  # unlabelled folder: no classes
    reader = store.feature_set("logmel-vggish")
    labels, mask = reader.read_labels("one")
    assert labels.shape == (reader.tracks()[0].n_frames, 0)
    assert verify_store(url, deep=True).ok


def test_extract_command_rejects_unknown_feature_set(tmp_path, make_track, capsys):
    make_track("one")
    code = main(["extract", "--dataset", "folder", str(tmp_path / "audio"), "--store", str(tmp_path / "s"),
                 "--features", "mfcc", "--workers", "0"])
    assert code == 2
    assert "unknown feature set 'mfcc'" in capsys.readouterr().err


def test_extract_progress_bar_counts_every_track_of_the_dataset(tmp_path, make_track, capsys):
    for name in ("one", "two", "three"):
        make_track(name, duration=1.0)
    args = ["extract", "--dataset", "folder", str(tmp_path / "audio"), "--store", str(tmp_path / "s"),
            "--workers", "0"]
    for _ in range(2):  # the second time all three are skipped unchanged, and counted too
        assert main(args) == 0
        err = capsys.readouterr().err
        assert "extract: 100%" in err and "| 3/3 [" in err, err
