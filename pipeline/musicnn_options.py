"""Which musicnn model, layer and grid an extraction uses, and where its weights are read.

The checkpoints come from the ``musicnn`` 0.1.0 wheel (``instrec fetch-musicnn``, run by
``make setup``; see ``features/MUSICNN.md``).  They are looked for in ``--musicnn-weights DIR``,
else ``$INSTREC_MUSICNN_DIR``, else ``<venv>/share/instrec/musicnn`` (``sys.prefix``), as
``DIR/<model>/.index`` and ``DIR/<model>/.data-00000-of-00001``.  They are read here, once, in
the process that plans the extraction; their tensors (3 MB) travel with the configuration.
Light on imports (the weights' reader, :mod:`features.musicnn_weights`, is imported when used):
``instrec --help`` adds the ``--musicnn-*`` options.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from features.choices import MUSICNN_MODELS, MUSICNN_PATCH_FRAMES
from pipeline.track import InstrecError

if TYPE_CHECKING:
    from features.musicnn import MusicnnConfig
    from features.musicnn_weights import MusicnnCheckpoint

ENV_DIR = "INSTREC_MUSICNN_DIR"
FETCH_COMMAND = "instrec fetch-musicnn"


def default_weights_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$INSTREC_MUSICNN_DIR``, else ``<sys.prefix>/share/instrec/musicnn``."""
    environ = os.environ if environ is None else environ
    if environ.get(ENV_DIR):
        return Path(environ[ENV_DIR]).expanduser()
    return Path(sys.prefix) / "share" / "instrec" / "musicnn"


def checkpoint_paths(directory: str | Path, model: str) -> tuple[Path, Path]:
    """The ``.index`` and ``.data-00000-of-00001`` files of ``model`` under ``directory``."""
    from features.musicnn_weights import DATA_FILE, INDEX_FILE

    folder = Path(directory) / model
    return folder / INDEX_FILE, folder / DATA_FILE


def load_musicnn_checkpoint(model: str, directory: str | Path | None = None) -> MusicnnCheckpoint:
    """Read and check ``model``'s checkpoint (sha256 of both files, crc32c of every tensor).

    Raises
    ------
    MusicnnWeightsError
        One line naming the file, its expected sha256 and the command that fetches it.
    """
    from features.musicnn_weights import CHECKPOINTS, MusicnnWeightsError, musicnn_checkpoint

    if model not in CHECKPOINTS:
        raise MusicnnWeightsError(f"unknown musicnn model {model!r}; choose one of {', '.join(MUSICNN_MODELS)}")
    directory = default_weights_dir() if directory is None else Path(directory)
    index_path, data_path = checkpoint_paths(directory, model)
    expected = CHECKPOINTS[model]
    blobs = []
    for path, sha in ((index_path, expected.index_sha256), (data_path, expected.data_sha256)):
        try:
            blobs.append(path.read_bytes())
        except OSError as exc:
            raise MusicnnWeightsError(
                f"{path}: cannot read musicnn's {model} checkpoint ({exc.strerror or exc}; expected sha256 {sha}); "
                f"fetch it with `{FETCH_COMMAND}` (or `make musicnn-weights`), or point --musicnn-weights / "
                f"${ENV_DIR} at a folder holding it"
            ) from exc
    try:
        return musicnn_checkpoint(
            model, index=blobs[0], data=blobs[1], index_label=str(index_path), data_label=str(data_path)
        )
    except MusicnnWeightsError as exc:
        raise MusicnnWeightsError(
            f"{exc}; fetch it again with `{FETCH_COMMAND} --force` (or `make musicnn-weights`)"
        ) from exc


@dataclass(frozen=True)
class MusicnnOptions:
    """The musicnn settings of an extraction (``--musicnn-*`` options).

    Parameters
    ----------
    model : str
        One of ``MTT_musicnn`` (default), ``MSD_musicnn``, ``MTT_vgg``, ``MSD_vgg``.
    layer : str, optional
        Default ``max_pool`` (musicnn) or ``pool5`` (VGG).
    hop_frames : int
        Mel frames (16 ms) between store frames; 187 (default) is musicnn's own 3 s tiling.
    weights_dir : str, optional
        Folder of the checkpoints (default :func:`default_weights_dir`).
    """

    model: str = "MTT_musicnn"
    layer: str | None = None
    hop_frames: int = MUSICNN_PATCH_FRAMES
    weights_dir: str | None = None

    def __post_init__(self) -> None:
        from features.musicnn_weights import LAYERS, architecture

        if self.model not in MUSICNN_MODELS:
            raise InstrecError(f"--musicnn-model must be one of {', '.join(MUSICNN_MODELS)}, got {self.model!r}")
        layers = LAYERS[architecture(self.model)]
        if self.layer is not None and self.layer not in layers:
            raise InstrecError(f"--musicnn-layer: {self.model} has layers {', '.join(layers)}, not {self.layer!r}")
        if not 1 <= self.hop_frames <= MUSICNN_PATCH_FRAMES:
            raise InstrecError(f"--musicnn-hop must be 1..{MUSICNN_PATCH_FRAMES} mel frames of 16 ms, "
                               f"got {self.hop_frames}")

    @property
    def chosen_layer(self) -> str:
        return self.layer or ("pool5" if self.model.endswith("_vgg") else "max_pool")


def add_musicnn_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--musicnn-model``, ``--musicnn-layer``, ``--musicnn-hop``, ``--musicnn-weights``."""
    group = parser.add_argument_group("musicnn (pre-trained on real music; see features/MUSICNN.md)")
    group.add_argument("--musicnn-model", default="MTT_musicnn", choices=MUSICNN_MODELS,
                       help="checkpoint: MagnaTagATune or Million Song Dataset, musicnn or its VGG baseline")
    group.add_argument("--musicnn-layer", default=None,
                       help="stored layer: max_pool (753), mean_pool, penultimate (200), taggram (50 tags); "
                            "VGG: pool5 (256), taggram (default: max_pool, pool5 for VGG)")
    group.add_argument("--musicnn-hop", type=int, default=MUSICNN_PATCH_FRAMES, metavar="FRAMES",
                       help=f"16 ms mel frames between store frames ({MUSICNN_PATCH_FRAMES}: musicnn's 3 s patches; "
                            "62 = 1 s frames at 3x the cost)")
    group.add_argument("--musicnn-weights", default=None, metavar="DIR",
                       help=f"folder of the checkpoints (default: ${ENV_DIR} or <venv>/share/instrec/musicnn)")


def musicnn_options_from_args(args: argparse.Namespace) -> MusicnnOptions:
    """The options given on the command line (:func:`add_musicnn_arguments`)."""
    return MusicnnOptions(
        model=getattr(args, "musicnn_model", "MTT_musicnn"), layer=getattr(args, "musicnn_layer", None),
        hop_frames=getattr(args, "musicnn_hop", MUSICNN_PATCH_FRAMES),
        weights_dir=getattr(args, "musicnn_weights", None),
    )


def musicnn_config(options: MusicnnOptions | None = None) -> MusicnnConfig:
    """The :class:`features.musicnn.MusicnnConfig` of ``options`` (default: :class:`MusicnnOptions`),
    with its weights loaded and checked."""
    from features.musicnn import MusicnnConfig

    options = MusicnnOptions() if options is None else options

    checkpoint = load_musicnn_checkpoint(options.model, options.weights_dir)
    return MusicnnConfig(
        model=options.model, layer=options.chosen_layer, hop_frames=options.hop_frames, checkpoint=checkpoint
    )


def with_weights(config: MusicnnConfig, directory: str | Path | None = None) -> MusicnnConfig:
    """``config`` (e.g. rebuilt from a store's parameters) with its checkpoint loaded."""
    from features.musicnn import MusicnnConfig

    if config.has_weights():
        return config
    return MusicnnConfig(
        model=config.model, layer=config.layer, hop_frames=config.hop_frames, pad_short=config.pad_short,
        weights_sha256=config.weights_sha256, checkpoint=load_musicnn_checkpoint(config.model, directory),
    )
