"""Validate instrec's PyTorch musicnn against the TensorFlow graph of the musicnn 0.1.0 release.

Two steps, in two environments (TensorFlow is never an instrec dependency)::

    # 1. in a separate venv with TensorFlow: python3 -m venv /tmp/tfvenv &&
    #    /tmp/tfvenv/bin/pip install tensorflow-cpu==2.15.1 librosa
    /tmp/tfvenv/bin/python benchmarks/validate_musicnn.py reference \\
        --wheel musicnn-0.1.0-py3-none-any.whl --out /tmp/musicnn_tf_full.npz \\
        --fixture tests/fixtures/musicnn/tf_reference.npz
    # 2. in instrec's venv
    .venv/bin/python benchmarks/validate_musicnn.py compare --reference /tmp/musicnn_tf_full.npz

Step 1 builds each model's graph with the wheel's own ``musicnn/models.py`` (loaded from the
wheel by file path, with its ``configuration.py``; the package is not installed), restores
the checkpoint with ``tf.compat.v1.train.Saver`` and runs every layer the release's
``extractor()`` returns on a fixed input: a synthetic 6 s signal (seeded: decaying harmonic
notes, a bass line and noise bursts), turned into patches exactly as ``extractor.batch_data``
does (librosa's mel spectrogram, float16, ``log10(10000 x + 1)``, 187-frame patches).  It
writes every output in full to ``--out`` and a small subsample (all of the pooled layers, 4096
fixed elements of each larger one) to ``--fixture``, the file the tests compare against.

Step 2 runs the PyTorch port (weights read by ``features.tensor_bundle``) on the same input
patches and prints the max abs error per layer, then the front end's error (instrec's
``musicnn_log_mel`` on the same audio against the librosa input) and the end-to-end taggram
error (instrec's front end + network).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import types
import zipfile
from pathlib import Path

import numpy as np

MODELS = ("MTT_musicnn", "MSD_musicnn", "MTT_vgg", "MSD_vgg")
MUSICNN_LAYERS = ("timbral", "temporal", "cnn1", "cnn2", "cnn3", "mean_pool", "max_pool", "penultimate", "taggram")
VGG_LAYERS = ("pool1", "pool2", "pool3", "pool4", "pool5", "taggram")
SR, N_PATCHES, PATCH_FRAMES, HOP = 16000, 2, 187, 256
SUBSAMPLE = 4096
SEED = 20190801


def synthetic_audio() -> np.ndarray:
    """6 s of seeded synthetic music as int16 (the fixture stores it exactly)."""
    rng = np.random.default_rng(SEED)
    n = N_PATCHES * PATCH_FRAMES * HOP + HOP  # a bit more than two patches
    t = np.arange(n) / SR
    y = np.zeros(n)
    for onset in np.arange(0.0, n / SR, 0.5):  # a melody of decaying harmonic notes
        f0 = 220.0 * 2 ** (rng.integers(0, 12) / 12)
        on = t >= onset
        env = np.exp(-(t[on] - onset) * 3.0)
        for k in range(1, 8):
            y[on] += 0.25 / k * env * np.sin(2 * np.pi * k * f0 * (t[on] - onset))
    y += 0.2 * np.sin(2 * np.pi * 55.0 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))  # bass
    for onset in np.arange(0.25, n / SR, 1.0):  # noise bursts (snare-like)
        on = (t >= onset) & (t < onset + 0.15)
        y[on] += 0.3 * rng.standard_normal(on.sum()) * np.exp(-(t[on] - onset) * 30)
    y = 0.9 * y / np.abs(y).max()
    return np.round(y * 32767).astype(np.int16)


def musicnn_batch(audio: np.ndarray) -> np.ndarray:
    """``musicnn.extractor.batch_data`` on an array instead of a file (same librosa calls)."""
    import librosa

    rep = librosa.feature.melspectrogram(y=audio, sr=SR, hop_length=HOP, n_fft=512, n_mels=96).T
    rep = rep.astype(np.float16)
    rep = np.log10(10000 * rep + 1)  # NumPy < 2 promotes to float32 here, as in 2019
    assert rep.dtype == np.float32, f"expected float32 promotion, got {rep.dtype} (run step 1 with NumPy < 2)"
    starts = range(0, rep.shape[0] - PATCH_FRAMES + 1, PATCH_FRAMES)
    return np.stack([rep[s : s + PATCH_FRAMES] for s in starts])


def _load_wheel_module(name: str, source: str) -> types.ModuleType:
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    exec(compile(source, f"musicnn-0.1.0/{name.replace('.', '/')}.py", "exec"), module.__dict__)
    return module


def tf_reference(wheel: Path, out: Path, fixture: Path | None) -> None:
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    audio_i16 = synthetic_audio()
    audio = audio_i16.astype(np.float32) / 32768.0
    batch = musicnn_batch(audio)
    results: dict[str, np.ndarray] = {"audio_int16": audio_i16, "input": batch}
    with zipfile.ZipFile(wheel) as archive, tempfile.TemporaryDirectory() as tmp:
        archive.extractall(tmp)
        package = types.ModuleType("musicnn")
        package.__path__ = []
        sys.modules["musicnn"] = package
        package.configuration = _load_wheel_module("musicnn.configuration", archive.read("musicnn/configuration.py").decode())
        models = _load_wheel_module("musicnn.models", archive.read("musicnn/models.py").decode())
        for model in MODELS:
            tf.compat.v1.reset_default_graph()
            with tf.name_scope("model"):
                x = tf.compat.v1.placeholder(tf.float32, [None, PATCH_FRAMES, 96])
                is_training = tf.compat.v1.placeholder(tf.bool)
                outputs = models.define_model(x, is_training, model, 50)
                y = tf.nn.sigmoid(outputs[0])
            names = VGG_LAYERS[:-1] if model.endswith("_vgg") else MUSICNN_LAYERS[:-1]
            tensors = dict(zip(names, outputs[1:])) | {"taggram": y}
            with tf.compat.v1.Session() as sess:
                sess.run(tf.compat.v1.global_variables_initializer())
                tf.compat.v1.train.Saver().restore(sess, f"{tmp}/musicnn/{model}/")
                values = sess.run(tensors, feed_dict={x: batch, is_training: False})
            for layer, value in values.items():
                results[f"{model}/{layer}"] = np.asarray(value, dtype=np.float32)
                print(f"{model}/{layer}: {value.shape}")
    results["versions"] = np.array(f"tensorflow {tf.__version__}, numpy {np.__version__}, "
                                   f"librosa {sys.modules['librosa'].__version__}")
    np.savez_compressed(out, **results)
    print(f"wrote {out}")
    if fixture is not None:
        write_fixture(results, fixture)


def write_fixture(results: dict[str, np.ndarray], path: Path) -> None:
    """Pooled layers in full; of every larger layer, 4096 fixed elements (flat indices saved)."""
    small: dict[str, np.ndarray] = {}
    rng = np.random.default_rng(0)
    for key, value in results.items():
        if "/" in key and value.size > SUBSAMPLE:
            flat = np.sort(rng.choice(value.size, SUBSAMPLE, replace=False))
            small[key + ":index"] = flat.astype(np.int64)
            small[key + ":shape"] = np.array(value.shape, dtype=np.int64)
            small[key] = value.reshape(-1)[flat]
        else:
            small[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **small)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


def torch_outputs(model: str, batch: np.ndarray, weights_dir: str | None) -> dict[str, np.ndarray]:
    """Every layer of instrec's port on ``batch``, in the release's layouts."""
    import torch

    from features.musicnn import loaded_network
    from pipeline.musicnn_options import load_musicnn_checkpoint

    network = loaded_network(load_musicnn_checkpoint(model, weights_dir))
    with torch.inference_mode():
        out = network(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)))
    return {k: v.numpy() for k, v in out.items()}


def layer_errors(reference: dict[str, np.ndarray], weights_dir: str | None = None) -> dict[str, dict[str, float]]:
    """Max abs error and max |reference| per ``model/layer`` (full or subsampled references)."""
    batch = reference["input"]
    rows: dict[str, dict[str, float]] = {}
    for model in MODELS:
        ours = torch_outputs(model, batch, weights_dir)
        for layer in VGG_LAYERS if model.endswith("_vgg") else MUSICNN_LAYERS:
            key = f"{model}/{layer}"
            got = ours[layer]
            if key + ":index" in reference:
                got = got.reshape(-1)[reference[key + ":index"]]
            want = reference[key]
            if got.size == want.size:
                got = got.reshape(want.shape)  # TF keeps a trailing 1 on cnn1..cnn3
            if got.shape != want.shape:
                raise SystemExit(f"{key}: shape {got.shape} vs TensorFlow's {want.shape}")
            rows[key] = {"max_abs_error": float(np.abs(got - want).max()), "max_abs": float(np.abs(want).max())}
    return rows


def front_end_errors(reference: dict[str, np.ndarray], weights_dir: str | None = None) -> dict[str, float]:
    """instrec's log-mel patches and MTT taggram from the raw audio vs the TF side's."""
    from features.musicnn import MusicnnConfig, musicnn_log_mel
    from pipeline.musicnn_options import load_musicnn_checkpoint

    audio = reference["audio_int16"].astype(np.float32) / 32768.0
    batch = reference["input"]
    ours = musicnn_log_mel(audio)[: len(batch) * PATCH_FRAMES].reshape(batch.shape)
    checkpoint = load_musicnn_checkpoint("MTT_musicnn", weights_dir)
    taggram = MusicnnConfig(model="MTT_musicnn", layer="taggram", checkpoint=checkpoint).compute(audio)
    diff = np.abs(ours - batch)
    return {
        "input_max_abs_error": float(diff.max()), "input_mean_abs_error": float(diff.mean()),
        "input_max_abs": float(np.abs(batch).max()),
        "end_to_end_taggram_max_abs_error": float(np.abs(taggram[: len(batch)] - reference["MTT_musicnn/taggram"]).max()),
    }


def compare(reference_path: Path, weights_dir: str | None) -> None:
    with np.load(reference_path) as npz:
        reference = {k: npz[k] for k in npz.files}
    print(f"reference: {reference_path} ({reference['versions']}); input patches {reference['input'].shape}")
    print(f"{'layer':28s} {'max abs error':>14s} {'max |TF value|':>15s}")
    for key, row in layer_errors(reference, weights_dir).items():
        print(f"{key:28s} {row['max_abs_error']:14.3g} {row['max_abs']:15.3g}")
    for name, value in front_end_errors(reference, weights_dir).items():
        print(f"{name:34s} {value:.3g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="step", required=True)
    ref = sub.add_parser("reference", help="step 1, with TensorFlow: write the reference outputs")
    ref.add_argument("--wheel", required=True, type=Path, help="musicnn-0.1.0-py3-none-any.whl")
    ref.add_argument("--out", required=True, type=Path, help="full outputs (.npz)")
    ref.add_argument("--fixture", type=Path, default=None, help="subsampled copy for the tests (.npz)")
    cmp_ = sub.add_parser("compare", help="step 2, in instrec's venv: print the max abs error per layer")
    cmp_.add_argument("--reference", required=True, type=Path)
    cmp_.add_argument("--weights", default=None, help="checkpoint folder (default: instrec's)")
    args = parser.parse_args()
    if args.step == "reference":
        tf_reference(args.wheel, args.out, args.fixture)
    else:
        compare(args.reference, args.weights)


if __name__ == "__main__":
    main()
