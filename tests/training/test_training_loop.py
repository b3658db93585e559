"""Training end to end on the store interface: run directory, resume, load_run, safety."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from training.config import TrainConfig
from training.loop import train
from training.run import RunError, load_checkpoint, load_run, save_decision


TINY = {"channels": (4, 4), "hidden": 8, "fc": 16}


def _config(tmp_path, name="run", **overrides):
    values = dict(store="memory://fake-store", features="logmel", model="crnn", out=str(tmp_path / name),
                  model_options=TINY, epochs=3, batch_size=4, window=32, lr=3e-3, device="cpu",
                  workers=0, progress=False, augment=("specaugment", "noise", "mixup", "reverse"))
    values.update(overrides)
    return TrainConfig(**values)


class Crash(Exception):
    pass


def test_run_directory_holds_everything_prediction_needs(tmp_path, make_store):
    store = make_store()
    run_dir = train(_config(tmp_path), store=store)
    for name in ("config.json", "classes.json", "features.json", "store.json", "model.pt", "last.pt",
                 "metrics.jsonl", "loss_curve.png"):
        assert (run_dir / name).is_file(), name
    features = json.loads((run_dir / "features.json").read_text())
    assert features["config_hash"] == store.feature_set("logmel").config_hash
    assert features["params"]["n_mels"] == 16
    assert json.loads((run_dir / "store.json").read_text())["snapshot_id"] == "snapshot-0001"
    history = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert {"train_loss", "val_loss", "f1", "map", "clip_f1", "lr", "frames_per_s"} <= set(history[0])
    # the training statistics a prior baseline needs: prior = known positive frames / known frames
    data = json.loads((run_dir / "training_data.json").read_text())
    reader = store.feature_set("logmel")
    train_ids = [t.track_id for t in reader.tracks("train")]
    labels = np.concatenate([reader.read_labels(t)[0] for t in train_ids])
    known = np.concatenate([reader.read_labels(t)[1] for t in train_ids])
    for c, name in enumerate(["inst0", "inst1", "inst2"]):
        assert data["frame_known"][name] == int(known[:, c].sum())
        assert data["frame_positive"][name] == int((labels[:, c].astype(bool) & known[:, c]).sum())
        assert data["frame_prior"][name] == pytest.approx(data["frame_positive"][name] / data["frame_known"][name])
    dominants = [t.dominant for t in reader.tracks("train") if t.dominant is not None]
    assert sum(data["dominant_counts"].values()) == len(dominants)

    run = load_run(run_dir)
    assert run.classes == ["inst0", "inst1", "inst2"] and not run.model.training
    # the training input standardisation travels with the weights
    reader = store.feature_set("logmel")
    frames = np.concatenate([reader.read_features(t.track_id) for t in reader.tracks("train")])
    np.testing.assert_allclose(run.model.mean.numpy(), frames.mean(axis=0), atol=1e-4)
    assert run.feature_config_hash == features["config_hash"] and run.feature_name == "logmel"
    assert len(run.history) == 3
    np.testing.assert_array_equal(run.thresholds, [0.5, 0.5, 0.5])
    probs = run.predict(np.random.default_rng(0).normal(size=(75, 16)).astype(np.float32))
    assert probs.shape == (75, 3) and probs.dtype == np.float32
    assert ((probs >= 0) & (probs <= 1)).all()
    assert run.predict_clip(np.zeros((75, 16), dtype=np.float32)).shape == (3,)
    with pytest.raises(ValueError, match=r"expected \(T, 16\)"):
        run.predict(np.zeros((10, 8), dtype=np.float32))


def test_windowed_prediction_equals_whole_sequence_for_a_per_frame_model(tmp_path, make_store):
    run_dir = train(_config(tmp_path, model="mlp", model_options={"hidden": (16, 16)}, epochs=1),
                    store=make_store())
    run = load_run(run_dir)
    x = np.random.default_rng(1).normal(size=(101, 16)).astype(np.float32)
    with torch.no_grad():
        whole = torch.sigmoid(run.model(torch.from_numpy(x)[None])["frame"][0]).numpy()
    np.testing.assert_allclose(run.predict(x), whole, atol=1e-6)


def test_resume_after_a_crash_ends_where_an_uninterrupted_run_ends(tmp_path, make_store):
    torch.use_deterministic_algorithms(True)
    try:
        uninterrupted = train(_config(tmp_path, "a"), store=make_store())

        store = make_store()
        reader = store.feature_set("logmel")
        original = reader.read_features
        epochs_done = []

        def crash_in_epoch_three(track_id, start=0, stop=None):
            if len(epochs_done) == 2:
                raise Crash("disk went away")
            return original(track_id, start, stop)

        reader.read_features = crash_in_epoch_three
        with pytest.raises(Crash):
            train(_config(tmp_path, "b"), store=store, on_epoch_end=epochs_done.append)
        reader.read_features = original
        with pytest.raises(RunError, match="already holds a training run"):
            train(_config(tmp_path, "b"), store=store)
        resumed = train(_config(tmp_path, "b"), store=store, resume=True)
    finally:
        torch.use_deterministic_algorithms(False)

    a, b = load_checkpoint(uninterrupted / "last.pt"), load_checkpoint(resumed / "last.pt")
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    drop = ("frames_per_s",)
    history_a = [{k: v for k, v in r.items() if k not in drop} for r in a["fit_state"]["history"]]
    history_b = [{k: v for k, v in r.items() if k not in drop} for r in b["fit_state"]["history"]]
    assert history_a == history_b and len(history_b) == 3
    assert len((resumed / "metrics.jsonl").read_text().splitlines()) == 3


def test_resume_refuses_changed_settings(tmp_path, make_store):
    store = make_store()
    train(_config(tmp_path, epochs=1), store=store)
    with pytest.raises(RunError, match=r"changed settings \['lr'\]"):
        train(_config(tmp_path, epochs=2, lr=0.1), store=store, resume=True)
    with pytest.raises(RunError, match="nothing to resume"):
        train(_config(tmp_path, "fresh"), store=store, resume=True)
    store.snapshot_id = "snapshot-0002"
    with pytest.raises(RunError, match="started on store snapshot snapshot-0001"):
        train(_config(tmp_path, epochs=2), store=store, resume=True)


class Payload:
    def __reduce__(self):
        return (print, ("this checkpoint runs code",))


def test_checkpoint_with_code_is_refused(tmp_path, make_store):
    run_dir = train(_config(tmp_path, epochs=1), store=make_store())
    torch.save({"format": "instrec-model-1", "state_dict": {}, "payload": Payload()}, run_dir / "model.pt")
    with pytest.raises(RunError, match="model.pt: refused to load: the file holds objects other than weights"):
        load_run(run_dir)


def test_decision_round_trip_and_legacy_thresholds(tmp_path, make_store):
    run_dir = train(_config(tmp_path, epochs=1), store=make_store())
    assert load_run(run_dir).decision is None and load_run(run_dir).micro_threshold is None
    doc = {"format": "instrec-decision-1", "default": "per-class", "micro": 0.42,
           "per_class": {"inst0": 0.42, "inst1": 0.3, "inst2": 0.42}, "per_class_tuned": ["inst1"]}
    save_decision(run_dir, doc)
    run = load_run(run_dir)
    np.testing.assert_allclose(run.thresholds, [0.42, 0.3, 0.42])
    assert run.micro_threshold == pytest.approx(0.42) and run.decision["version"] == 1
    save_decision(run_dir, {**doc, "default": "micro"})  # re-tuned: a new version, the default rule applies
    run = load_run(run_dir)
    np.testing.assert_allclose(run.thresholds, [0.42] * 3)
    assert run.decision["version"] == 2
    with pytest.raises(RunError, match=r"classes the run does not know: \['cello'\]"):
        save_decision(run_dir, {**doc, "per_class": {"cello": 0.4}})
    with pytest.raises(RunError, match="strictly between 0 and 1"):
        save_decision(run_dir, {**doc, "micro": 1.0})
    # a run tuned by an older instrec: a flat thresholds.json (+ micro_threshold.json)
    (run_dir / "thresholds.json").write_text(json.dumps({"inst0": 0.5, "inst1": 0.3, "inst2": 0.5}))
    run = load_run(run_dir)
    np.testing.assert_allclose(run.thresholds, [0.5, 0.3, 0.5])
    assert run.micro_threshold is None and run.decision["format"] == "legacy"
    (run_dir / "micro_threshold.json").write_text(json.dumps({"threshold": 0.4}))
    assert load_run(run_dir).micro_threshold == pytest.approx(0.4)


def test_config_is_validated_on_creation(tmp_path):
    with pytest.raises(ValueError, match="model 'resnet' is not one of"):
        _config(tmp_path, model="resnet")
    with pytest.raises(ValueError, match="unknown augmentation"):
        _config(tmp_path, augment=("pitch",))
    with pytest.raises(ValueError, match="window must be >= 1"):
        _config(tmp_path, window=0)
    config = _config(tmp_path)
    assert TrainConfig.from_json(config.to_json()) == config


def test_training_learns_the_synthetic_task(tmp_path, make_store):
    run_dir = train(_config(tmp_path, epochs=12, augment=(), lr=1e-2, patience=12), store=make_store())
    history = load_run(run_dir).history
    assert history[-1]["train_loss"] < 0.6 * history[0]["train_loss"]
    assert max(r["f1"] for r in history) > 0.8


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_training_on_cuda_with_bf16_autocast(tmp_path, make_store):
    run_dir = train(_config(tmp_path, device="cuda", epochs=2), store=make_store())
    history = load_run(run_dir, device="cuda").history
    assert len(history) == 2 and all(np.isfinite(r["train_loss"]) for r in history)


def test_model_options_that_do_not_fit_are_a_run_error(tmp_path, make_store):
    with pytest.raises(RunError, match="cannot build model 'crnn'.*bad options"):
        train(_config(tmp_path, model_options={"width": 3}), store=make_store())


def test_two_trainings_into_one_run_directory_cannot_mix(tmp_path, make_store, monkeypatch):
    """The second train() into the same out fails at once naming the holder, even when both start together."""
    import threading

    import training.loop as loop
    from storage.locking import StoreLockedError

    started, release, calls = threading.Event(), threading.Event(), []
    real_resolve = loop.resolve_device

    def first_waits(name):  # the first run pauses after checking its run directory, before writing into it
        calls.append(name)
        if len(calls) == 1:
            started.set()
            release.wait(60)
        return real_resolve(name)

    monkeypatch.setattr(loop, "resolve_device", first_waits)
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(dir=train(_config(tmp_path, epochs=2), store=make_store())))
    worker.start()
    try:
        assert started.wait(60)
        with pytest.raises(StoreLockedError, match=r"run: another `instrec train` is writing this run directory "
                                                   r"\(pid \d+ on .*wait for it to finish, or delete .*run/\.lock"):
            train(_config(tmp_path, epochs=1, seed=7), store=make_store(seed=1))
    finally:
        release.set()
        worker.join(120)
    assert outcome["dir"] == tmp_path / "run"
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (saved["epochs"], saved["seed"]) == (2, 0)  # one run's files only
    assert not (tmp_path / "run" / ".lock").exists()
    with pytest.raises(RunError, match="already holds a training run"):  # after it, the usual refusal
        train(_config(tmp_path, epochs=1), store=make_store())


def test_a_full_disk_while_saving_a_checkpoint_is_one_error_and_leaves_no_partial_files(tmp_path, make_store,
                                                                                       monkeypatch):
    import errno
    import os

    import training.run as run_module
    from matplotlib.figure import Figure

    real_save = torch.save

    def save_until_full(obj, path, *args, **kwargs):
        if str(path).endswith("last.pt.tmp"):
            with open(path, "wb") as handle:
                handle.write(b"PK\x03\x04 half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_save(obj, path, *args, **kwargs)

    def savefig_on_full_disk(self, path, *args, **kwargs):
        open(path, "wb").close()  # matplotlib opens the file, then the first write fails
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(run_module.torch, "save", save_until_full)
    monkeypatch.setattr(Figure, "savefig", savefig_on_full_disk)
    with pytest.raises(RunError, match=r"run/last\.pt: cannot write it \(No space left on device\); free disk space"):
        train(_config(tmp_path), store=make_store())
    left = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert not [name for name in left if name.endswith(".tmp")], left
    assert "loss_curve.png" not in left and "last.pt" not in left and ".lock" not in left, left
