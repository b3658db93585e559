"""``instrec import-openmic-vggish``, ``instrec pretrain-embedding`` and ``instrec fetch-musicnn``:
embeddings and weights that do not come from ``instrec extract``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from core.device import DEVICES
from pipeline.arguments import positive_float, positive_int
from storage.options import add_endpoint_url


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``import-openmic-vggish``, ``pretrain-embedding`` and ``fetch-musicnn`` subcommands."""
    parser = subparsers.add_parser(
        "import-openmic-vggish",
        help="import OpenMIC-2018's released VGGish embeddings as feature set vggish-openmic",
        description=(
            "Read each labelled OpenMIC-2018 clip and its vggish/<key[:3]>/<key>.json (official VGGish weights, "
            "PCA + 8-bit quantisation) and write the dequantised embeddings on the 0.96 s grid, with the clip "
            "labels and mask (frame labels unknown), into the store. Unchanged clips are skipped."
        ),
    )
    parser.add_argument("root", metavar="ROOT", help="the unpacked openmic-2018 folder")
    parser.add_argument("--store", required=True, metavar="URL", help="store path or fsspec URL")
    parser.add_argument("--prune", action="store_true", help="remove clips the dataset no longer lists")
    add_endpoint_url(parser)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(handler=run_import)

    parser = subparsers.add_parser(
        "pretrain-embedding",
        help="pre-train VGGish on the store's own audio (denoising autoencoder)",
        description=(
            "Train a VGGish encoder to reconstruct clean 0.96 s log-mel examples from corrupted ones "
            "(additive Gaussian noise, std 0.1, or Bernoulli masking, p = 0.5), reading VGGish's input frames "
            "from the store (extract them with --features vggish-input). Saves a torchvggish-format state dict "
            "at --out and <out>.json; use it with `instrec extract --features vggish --vggish-weights OUT`."
        ),
    )
    parser.add_argument("--store", required=True, metavar="URL", help="store path or fsspec URL")
    parser.add_argument("--features", default="vggish-input", metavar="NAME_OR_KEY", help="input feature set")
    parser.add_argument("--out", required=True, metavar="CKPT", help="checkpoint path or fsspec URL to write")
    parser.add_argument("--objective", choices=("gaussian", "bernoulli"), default="gaussian",
                        help="input corruption")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=positive_float, default=None, help="passes over the split (default: 1)")
    length.add_argument("--steps", type=positive_int, default=None, help="batches to train on (default: --epochs 1)")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="examples per batch")
    parser.add_argument("--lr", type=positive_float, default=1e-4, help="Adam learning rate")
    parser.add_argument("--split", default="train", help="store split to train on")
    parser.add_argument("--seed", type=int, default=0, help="random seed (corruption, order, initialisation)")
    parser.add_argument("--device", default="auto", choices=DEVICES,
                        help="auto uses CUDA when available, else the CPU")
    add_endpoint_url(parser)
    parser.set_defaults(handler=run_pretrain)

    parser = subparsers.add_parser(
        "fetch-musicnn",
        help="fetch the musicnn checkpoints (MTT/MSD, musicnn and VGG) from the musicnn 0.1.0 wheel",
        description=(
            "Download the musicnn 0.1.0 wheel with `pip download musicnn==0.1.0 --no-deps` (never installed "
            "or imported), check its sha256 and extract the four TensorFlow checkpoints, their config.json "
            "and the ISC licence into DEST (default $INSTREC_MUSICNN_DIR or <venv>/share/instrec/musicnn). "
            "Does nothing when the files are already there and intact."
        ),
    )
    parser.add_argument("--dest", default=None, metavar="DIR",
                        help="where to put the checkpoints (default: $INSTREC_MUSICNN_DIR or "
                             "<venv>/share/instrec/musicnn)")
    parser.add_argument("--wheel", default=None, metavar="PATH",
                        help="use this copy of the wheel, no download (default: download it)")
    parser.add_argument("--force", action="store_true", help="fetch again even if the files check out")
    parser.set_defaults(handler=run_fetch_musicnn)


def run_import(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Import; exit 0 when every clip is imported or unchanged, 1 when some failed."""
    from pipeline.openmic_import import import_openmic_vggish
    from storage.options import storage_options

    out = out or sys.stdout
    summary = import_openmic_vggish(args.root, args.store, prune=args.prune,
                                    storage_options=storage_options(endpoint_url=args.endpoint_url))
    out.write((json.dumps(summary.to_json(), indent=1) if args.json else summary.text()) + "\n")
    return 1 if summary.failed else 0


def run_pretrain(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    from pipeline.pretrain import pretrain_embedding
    from storage.options import storage_options
    from core.device import resolve_device

    out = out or sys.stdout
    device = str(resolve_device(args.device, job="pretraining"))  # as instrec train: auto warns, cuda or error
    result = pretrain_embedding(
        args.store, out=args.out, features=args.features, objective=args.objective, steps=args.steps,
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr, split=args.split, seed=args.seed,
        device=device, storage_options=storage_options(endpoint_url=args.endpoint_url),
    )
    out.write(f"{result.out}: pretrained VGGish encoder ({len(result.losses)} steps, loss "
              f"{result.losses[0]:.4f} -> {result.losses[-1]:.4f}), sha256 {result.sha256}\n"
              f"use it with: instrec extract ... --features vggish --vggish-weights {result.out}\n")
    return 0


def run_fetch_musicnn(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    from pipeline.musicnn_fetch import fetch_musicnn_weights

    out = out or sys.stdout
    result = fetch_musicnn_weights(args.dest, wheel=args.wheel, force=args.force)
    if result.fetched:
        out.write(f"{result.dest}: musicnn checkpoints extracted and checked ({len(result.files)} files; "
                  "ISC licence in LICENSE.md, sha256s in PROVENANCE.json)\n")
    else:
        out.write(f"{result.dest}: musicnn checkpoints already there and intact\n")
    return 0
