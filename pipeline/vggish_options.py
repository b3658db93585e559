"""Which VGGish weights an extraction uses: the command-line options and the configuration.

``--vggish-weights`` is ``random`` (the default: a seeded random initialisation, an honest
baseline, recorded as ``weights: random`` in the store) or a path / fsspec URL of a
torchvggish-format checkpoint.  A checkpoint written by ``instrec pretrain-embedding`` has a
sidecar ``<checkpoint>.json`` saying ``"weights": "pretrained"`` (and that its encoder has no
final ReLU); any other checkpoint is taken as a copy of the official weights unless
``--vggish-kind`` says otherwise.  ``--vggish-pca`` adds the official PCA whitening and 8-bit
quantisation (dequantised to floats in [-2, 2]), as in the AudioSet and OpenMIC releases.

The store records the kind, the seed or the checkpoint's sha256 (and the PCA file's) in the
feature set's parameters, so its config hash, and hence its key, changes with the weights.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from typing import Any, Sequence

from pipeline.track import InstrecError

KINDS = ("auto", "official", "pretrained")
SIDECAR_SUFFIX = ".json"


@dataclass(frozen=True)
class WeightsFile:
    """A weights file at a local path or fsspec URL, readable again in any process.

    Implements :class:`features.vggish_weights.ReopenableSource`; it pickles as its URL and
    options, so Dask workers reload the file instead of receiving its tensors.
    """

    url: str
    storage_options: dict | None = None

    @property
    def name(self) -> str:
        return self.url

    def read_bytes(self) -> bytes:
        from storage.layout import resolve

        loc = resolve(self.url, self.storage_options)
        try:
            return loc.fs.cat_file(loc.root)
        except FileNotFoundError as exc:
            raise InstrecError(f"{self.url}: no such weights file; check --vggish-weights / --vggish-pca") from exc

    def exists(self) -> bool:
        from storage.layout import resolve

        loc = resolve(self.url, self.storage_options)
        return bool(loc.fs.exists(loc.root))


def sidecar_of(url: str) -> str:
    """Where ``pretrain-embedding`` writes the description of a checkpoint."""
    return url + SIDECAR_SUFFIX


@dataclass(frozen=True)
class VGGishOptions:
    """The VGGish weights of an extraction (see the module docstring).

    Parameters
    ----------
    weights : str
        ``random`` or a checkpoint path / fsspec URL.
    pca : str, optional
        PCA parameters (``vggish_pca_params.npz`` or torchvggish ``.pth``); turns on the
        official postprocessing.
    kind : {"auto", "official", "pretrained"}
        What the checkpoint is; ``auto`` reads the sidecar written by ``pretrain-embedding``.
    seed : int
        Seed of the random weights.
    storage_options : dict
        fsspec options for URLs.
    """

    weights: str = "random"
    pca: str | None = None
    kind: str = "auto"
    seed: int = 0
    storage_options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InstrecError(f"--vggish-kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.weights == "random" and (self.pca or self.kind != "auto"):
            raise InstrecError(
                "--vggish-pca / --vggish-kind need a checkpoint: pass --vggish-weights PATH_OR_URL "
                "(random weights have no PCA parameters)"
            )


def add_vggish_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--vggish-weights``, ``--vggish-pca``, ``--vggish-kind``, ``--vggish-seed``."""
    group = parser.add_argument_group("VGGish weights")
    group.add_argument(
        "--vggish-weights", default="random", metavar="random|PATH_OR_URL",
        help="'random' (a seeded random initialisation, a baseline) or a torchvggish-format "
             "checkpoint (official copy, or the output of `instrec pretrain-embedding`)",
    )
    group.add_argument("--vggish-pca", default=None, metavar="PATH_OR_URL",
                       help="PCA parameters: apply the official whitening + 8-bit quantisation (default: none)")
    group.add_argument("--vggish-kind", default="auto", choices=KINDS,
                       help="what the checkpoint is (auto: 'pretrained' when pretrain-embedding wrote it, "
                            "else 'official')")
    group.add_argument("--vggish-seed", type=int, default=0, metavar="SEED", help="seed of the random weights")


def vggish_options_from_args(args: argparse.Namespace, *, storage_options: dict | None = None) -> VGGishOptions:
    """The options given on the command line (:func:`add_vggish_arguments`)."""
    return VGGishOptions(
        weights=getattr(args, "vggish_weights", "random"), pca=getattr(args, "vggish_pca", None),
        kind=getattr(args, "vggish_kind", "auto"), seed=getattr(args, "vggish_seed", 0),
        storage_options=dict(storage_options or {}),
    )


def read_sidecar(weights: WeightsFile) -> dict[str, Any]:
    """The description ``pretrain-embedding`` wrote next to a checkpoint, or ``{}``."""
    side = WeightsFile(sidecar_of(weights.url), weights.storage_options)
    if not side.exists():
        return {}
    try:
        doc = json.loads(side.read_bytes().decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise InstrecError(f"{side.url}: not valid JSON ({exc}); delete it or re-run pretrain-embedding") from exc
    if not isinstance(doc, dict):
        raise InstrecError(f"{side.url}: expected a JSON object describing the checkpoint")
    return doc


def vggish_config(options: VGGishOptions, **overrides: Any) -> Any:
    """The :class:`features.vggish.VGGishConfig` of ``options`` (weights validated here, once),
    with other parameters from ``overrides`` (``--features vggish:hop_s=0.5``).

    Raises
    ------
    InstrecError
        Unreadable, unsafe or wrong checkpoint or PCA file (the message names it).
    """
    from features.vggish import VGGishConfig

    if options.weights == "random":
        return VGGishConfig(weights="random", seed=options.seed, **overrides)
    storage_options = options.storage_options or None
    checkpoint = WeightsFile(options.weights, storage_options)
    sidecar = read_sidecar(checkpoint)
    kind = options.kind
    if kind == "auto":
        kind = "pretrained" if sidecar.get("weights") == "pretrained" else "official"
    final_relu = bool(sidecar.get("final_relu", kind != "pretrained"))
    pca = WeightsFile(options.pca, storage_options) if options.pca else None
    try:
        return VGGishConfig(weights=kind, final_relu=final_relu, postprocess=pca is not None,
                            checkpoint=checkpoint, pca_params=pca, **overrides)
    except ValueError as exc:
        raise InstrecError(f"--vggish-weights {options.weights}: {exc}") from exc


def build_feature_configs(
    names: Sequence[str], *, vggish: VGGishOptions = VGGishOptions(), musicnn: Any = None,
) -> list[Any]:
    """Configurations for ``--features`` specs (a name, or ``name:param=value,...``, see
    :mod:`pipeline.feature_specs`); ``vggish`` gets the weights of ``vggish``, ``musicnn`` the
    model, layer, grid and weights of ``musicnn`` (a :class:`pipeline.musicnn_options.MusicnnOptions`;
    default: MTT musicnn, ``max_pool``; set with the ``--musicnn-*`` options, not spec parameters).

    Raises
    ------
    InstrecError
        Unknown name (the message lists the known ones), bad parameter or bad or missing weights.
    """
    from features.registry import build_config
    from pipeline.feature_specs import build_feature_config, parse_feature_spec, typed_overrides
    from pipeline.musicnn_options import MusicnnOptions, musicnn_config

    musicnn = MusicnnOptions() if musicnn is None else musicnn
    configs = []
    families = []
    for spec in names:
        try:
            name, overrides = parse_feature_spec(spec)
            families.append(name)
            if name == "vggish":
                configs.append(vggish_config(vggish, **typed_overrides(build_config("vggish"), overrides)))
            elif name == "musicnn":
                if overrides:
                    raise InstrecError(f"--features {spec}: set musicnn's model, layer and hop with the "
                                       "--musicnn-* options, not as parameters")
                configs.append(musicnn_config(musicnn))
            else:
                configs.append(build_feature_config(spec))
        except TypeError as exc:
            raise InstrecError(f"--features {spec}: bad parameter ({exc})") from None
        except ValueError as exc:
            raise InstrecError(f"--features: {exc}") from exc
    if vggish.weights != "random" and "vggish" not in families:
        raise InstrecError("--vggish-weights is given but --features does not include vggish")
    if musicnn != MusicnnOptions() and "musicnn" not in families:
        raise InstrecError("--musicnn-* options are given but --features does not include musicnn")
    return configs
