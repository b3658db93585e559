"""The package seams are typed: the annotations of training's and evaluation's entry points name real
classes (resolved with their ``TYPE_CHECKING`` imports), never ``Any``."""

from __future__ import annotations

import ast
import importlib
import inspect
import typing

import pytest

SEAMS = [
    ("training.loop", "train", ("config", "store")),
    ("training.loop", "fit", ("config",)),
    ("training.loop", "prepare_run_dir", ("config",)),
    ("training.loop", "validation_reader", ("config", "reader", "store", "return")),
    ("training.loop", "remixing", ("config", "reader", "store", "train_set", "sampler", "return")),
    ("training.loop", "training_priors", ("stats",)),
    ("training.data", "WindowDataset.__init__", ("reader",)),
    ("training.data", "label_statistics", ("reader",)),
    ("training.data", "feature_statistics", ("reader",)),
    ("evaluation.tune", "tune_after_training", ("config",)),
    ("evaluation.evaluate", "evaluate_loaded", ("store", "reader", "run")),
    ("evaluation.evaluate", "predict_tracks", ("reader", "run", "entries")),
    ("evaluation.evaluate", "run_decision", ("run",)),
    ("evaluation.baseline", "load_prior_baseline", ("run",)),
    ("evaluation.predict", "decision_rule", ("run", "return")),
    ("evaluation.zero_shot", "tune_zero_shot_threshold", ("taggrams", "reader")),
    ("training.remix", "StemPool.__init__", ("reader",)),
    ("training.remix", "RemixDataset.__init__", ("base",)),
    ("training.remix", "RemixSampler.__init__", ("base",)),
    ("training.run", "describe_features", ("reader",)),
    ("pipeline.pretrain", "example_batches", ("reader",)),
    ("flows.demo", "summarise", ("config",)),
    ("flows.extract", "extract_batch_task", ("writer", "activity")),
    ("flows.extract", "run_batches_as_tasks", ("context",)),
    ("storage.schema", "FeatureSetSpec.from_config", ("config",)),
    ("pipeline.openmic_import", "_import_one", ("store",)),
]


def _parts(hint) -> set:
    """``hint`` and every type inside it (``tuple[A, B]``, ``A | None``...)."""
    return {hint}.union(*(_parts(arg) for arg in typing.get_args(hint)))


def _type_checking_names(module) -> dict:
    """The names a module imports under ``if TYPE_CHECKING:``, imported for real."""
    names = {}
    for node in ast.parse(inspect.getsource(module)).body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for statement in node.body:
                for alias in statement.names:
                    source = importlib.import_module(statement.module)
                    names[alias.asname or alias.name] = getattr(source, alias.name)
    return names


@pytest.mark.parametrize("module_name, qualname, params", SEAMS, ids=[f"{m}.{q}" for m, q, _ in SEAMS])
def test_seam_annotations_resolve_to_real_types(module_name, qualname, params):
    module = importlib.import_module(module_name)
    function = module
    for part in qualname.split("."):
        function = getattr(function, part)
    hints = typing.get_type_hints(function, globalns={**vars(module), **_type_checking_names(module)})
    for name in params:
        assert name in hints, f"{qualname}: {name} is not annotated"
        assert typing.Any not in _parts(hints[name]), f"{qualname}: {name} is {hints[name]}"


def test_the_store_reader_and_the_test_double_are_track_readers():
    from storage.store import FeatureSetReader
    from training.data import TrackReader

    members = {"read_features", "read_labels", "read_clip"}
    assert members <= set(dir(FeatureSetReader)) and members <= set(vars(TrackReader))
    from .conftest import FakeFeatureSetReader

    assert members <= set(dir(FakeFeatureSetReader))
