"""Dataset readers: one per dataset, each yielding :class:`~pipeline.track.Track` records.

>>> for item in read_dataset("slakh", "slakh2100_flac_redux", taxonomy="program"):
...     print(item)  # a Track, or a TrackProblem for a track that had to be skipped

Readers never raise for one bad track: they yield a :class:`~pipeline.track.TrackProblem`
naming the file and the reason, and go on.  They raise
:class:`~pipeline.track.DatasetError` only for problems with the whole dataset (root
missing, nothing of that dataset under it, an invalid option).

``"demo"`` reads the generated demo corpus, which is written in the AAM or the Slakh layout;
the layout is recognised from the files.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from core.lazy_exports import lazy_exports
from pipeline.track import DatasetError, Track, TrackProblem

if TYPE_CHECKING:
    from pipeline.readers.openmic import openmic_vggish_path

DATASETS = ("aam", "slakh", "openmic", "folder", "demo")

# Each reader's module and function, imported when a dataset is read (``instrec --help`` and
# ``import pipeline.readers.commands`` stay light).
_READERS: dict[str, tuple[str, str]] = {
    "aam": ("pipeline.readers.aam", "read_aam"),
    "slakh": ("pipeline.readers.slakh", "read_slakh"),
    "openmic": ("pipeline.readers.openmic", "read_openmic"),
    "folder": ("pipeline.readers.folder", "read_folder"),
}

__all__ = ["DATASETS", "read_dataset", "demo_layout", "openmic_vggish_path"]
__getattr__, __dir__ = lazy_exports(__name__, {"openmic_vggish_path": "pipeline.readers.openmic"})


def demo_layout(root: str | Path) -> str:
    """``"aam"`` or ``"slakh"``: the layout a demo corpus under ``root`` was written in."""
    from pipeline.readers.files import check_root, walk_files

    root = check_root(root, "demo")
    for path in walk_files(root):
        if path.name.endswith("_onsets.arff"):
            return "aam"
        if path.name == "metadata.yaml":
            return "slakh"
    raise DatasetError(
        f"{root}: not a demo corpus (no <id>_onsets.arff and no metadata.yaml under it); "
        "create one with `instrec demo-corpus OUT`"
    )


def read_dataset(
    dataset: str,
    root: str | Path,
    *,
    taxonomy: str | None = None,
    split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    **options,
) -> Iterator[Track | TrackProblem]:
    """Tracks of one dataset under ``root``.

    Parameters
    ----------
    dataset : str
        One of :data:`DATASETS`.
    root : str or Path
        The dataset's folder.
    taxonomy : str, optional
        Class vocabulary (Slakh: ``inst_class`` (default), ``program``, ``slakh34``).
    split_ratios : (train, validation, test)
        Ratios of the deterministic split for tracks without an official split.
    **options
        Reader options: ``merge_gap_s`` and ``min_event_s`` (event smoothing, AAM and
        Slakh), ``events_from`` (AAM), ``validation_fraction`` (OpenMIC), ``split``
        (folder), ``hash_cache`` (every reader: a :class:`~pipeline.readers.files.SourceHashCache`).

    Returns
    -------
    iterator of Track or TrackProblem

    Raises
    ------
    DatasetError
        Unknown dataset, taxonomy or option, a root that is not a directory or holds
        nothing of the dataset: all raised here, before any track is read.
    """
    if dataset not in DATASETS:
        raise DatasetError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    if dataset == "demo":
        module, function = _READERS[demo_layout(root)]
    else:
        from pipeline.readers.files import check_root

        check_root(root, dataset)
        module, function = _READERS[dataset]
    reader = getattr(importlib.import_module(module), function)
    accepted = set(inspect.signature(reader).parameters) - {"root", "taxonomy", "split_ratios", "dataset"}
    unknown = set(options) - accepted
    if unknown:
        raise DatasetError(
            f"option(s) {', '.join(sorted(unknown))} do not apply to {dataset}; "
            f"it takes {', '.join(sorted(accepted)) or 'no options'}"
        )
    return reader(root, taxonomy=taxonomy, split_ratios=tuple(split_ratios), dataset=dataset, **options)
