"""The flows as an operator sees them: one-line parameter errors, parameters checked at submission,
a scheduled scan that waits for its dataset, the library's logs in the run log, the report linked."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import soundfile as sf
from prefect.utilities.callables import parameter_schema

from .conftest import SONGS


def run_logs(flow_run_id) -> list[str]:
    """Messages of a flow run's log, as the UI shows them (its tasks' too)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()

    async def read():
        async with get_client() as client:
            return await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))

    return [log.message for log in asyncio.run(read())]


def artifacts(flow_run_id, key: str) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    async def read():
        async with get_client() as client:
            return await client.read_artifacts(artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]), key=ArtifactFilterKey(any_=[key])))

    return asyncio.run(read())


def test_deployment_parameter_schemas_list_the_allowed_values():
    """What the Prefect server checks `prefect deployment run -p ...` against, before any worker runs."""
    from flows.demo import demo_pipeline
    from flows.evaluate import evaluate_model
    from flows.extract import extract_features
    from flows.reprocess import reprocess_new_songs
    from flows.train import train_model

    for flow in (extract_features, reprocess_new_songs):
        props = parameter_schema(flow.fn).model_dump()["properties"]
        assert props["dataset"]["enum"] == ["aam", "slakh", "openmic", "folder", "demo"]
        assert "logmel" in props["features"]["anyOf"][0]["items"]["enum"]
        assert props["workers"]["minimum"] == 1
    train = parameter_schema(train_model.fn).model_dump()["properties"]
    assert "crnn" in train["model"]["enum"] and train["device"]["enum"] == ["auto", "cpu", "cuda"]
    assert train["epochs"]["anyOf"][0]["minimum"] == 1
    assert parameter_schema(evaluate_model.fn).model_dump()["properties"]["split"]["enum"] == [
        "train", "validation", "test", "all"]
    assert parameter_schema(demo_pipeline.fn).model_dump()["properties"]["songs"]["anyOf"][0]["minimum"] == 1


def test_a_bad_parameter_fails_the_run_with_one_line(prefect_harness, tmp_path):
    from flows.extract import extract_features

    state = extract_features(dataset="aam", root=str(tmp_path / "nowhere"), store=str(tmp_path / "s.zarr"),
                             workers="two", return_state=True)
    assert state.is_failed()
    message = state.message
    assert "\n" not in message
    assert f"parameter root='{tmp_path / 'nowhere'}': {tmp_path / 'nowhere'}: dataset root is not a folder" in message
    assert "parameter workers='two': Input should be a valid integer" in message
    logs = run_logs(state.state_details.flow_run_id)
    assert message in logs and not any("Traceback" in line for line in logs)
    state = extract_features(dataset="mp3s", root=str(tmp_path), store=str(tmp_path / "s.zarr"), return_state=True)
    assert state.message == ("parameter dataset='mp3s': Input should be 'aam', 'slakh', 'openmic', 'folder' or "
                             "'demo'")


def test_reprocessing_before_the_dataset_exists_completes_with_a_warning(prefect_harness, tmp_path):
    from flows.reprocess import reprocess_new_songs

    state = reprocess_new_songs(dataset="slakh", root=str(tmp_path / "demo" / "corpus"),
                                store=str(tmp_path / "s.zarr"), run=str(tmp_path / "run"), return_state=True)
    assert state.is_completed()
    result = state.result()
    assert result["dataset_missing"] and result["added"] == []
    run_id = state.state_details.flow_run_id
    assert any("no dataset folder here yet" in line for line in run_logs(run_id))
    (artifact,) = artifacts(run_id, "reprocessed-songs")
    assert "No dataset at" in artifact.data
    assert not (tmp_path / "s.zarr").exists()


def test_training_progress_and_warnings_reach_the_run_log(prefect_harness, store_template, tmp_path, monkeypatch):
    import training.loop as loop
    from flows.train import train_model

    class NoValidationTracks:  # the template store has a validation song: hide it to get the library's warning
        def __init__(self, reader):
            self.reader = reader

        def tracks(self, split):
            return [] if split == "validation" else self.reader.tracks(split)

    monkeypatch.setattr(loop, "validation_reader", lambda config, reader, store: NoValidationTracks(reader))
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)  # auto: the CPU, with the library's warning
    state = train_model(store=store_template, out=str(tmp_path / "run"), model="mlp", epochs=2, device="auto",
                        options={"batch_size": 4, "window": 32, "augment": [], "workers": 0, "steps_per_epoch": 2},
                        return_state=True)
    assert state.is_completed(), state.message
    logs = run_logs(state.state_details.flow_run_id)
    assert any(line.startswith("training mlp on logmel-") for line in logs)  # progress
    assert any(line.startswith("epoch 1: ") and "train_loss" in line for line in logs)  # per-epoch metrics
    assert any(line.startswith("epoch 2: ") for line in logs)
    assert any("no 'validation' tracks: the best checkpoint is chosen by training loss" in line for line in logs)
    assert any(line.startswith("no CUDA device found: training on the CPU") for line in logs)


def test_the_evaluation_artifact_links_the_report(prefect_harness, tmp_path, monkeypatch):
    import evaluation.evaluate as evaluate_module
    from flows.evaluate import evaluate_model

    monkeypatch.setattr(evaluate_module, "evaluate", lambda *a, **k: {"frame.f1_micro": 0.5})
    out = tmp_path / "report"
    state = evaluate_model(store=str(tmp_path / "s"), run=str(tmp_path / "r"), out=str(out), return_state=True)
    run_id = state.state_details.flow_run_id
    (link,) = artifacts(run_id, "evaluation-report")
    assert f"]({(out / 'report.html').as_uri()})" in link.data  # Prefect stores a link artifact as Markdown
    (headline,) = artifacts(run_id, "evaluation-headline")
    assert f"]({(out / 'report.html').as_uri()})" in headline.data and "| frame.f1_micro | 0.500 |" in headline.data


def test_reprocessed_predictions_are_named_by_track_id(tmp_path, monkeypatch):
    """Every Slakh mix is mix.flac: two new songs keep two prediction files."""
    from features.base import config_hash
    from features.logmel import LogMelConfig
    from flows.reprocess import predict_new_songs

    config = LogMelConfig(sr=8000, n_fft=512, hop_length=256, n_mels=16)

    class Run:
        run_dir, classes, decision = tmp_path / "run", ["Piano"], None
        feature_name, feature_config_hash = config.name, config_hash(config)

        def predict(self, features):
            return np.full((len(features), 1), 0.9, np.float32)

        def predict_clip(self, features):
            return np.array([0.9], np.float32)

    monkeypatch.setattr("evaluation.predict.load_runs", lambda dirs: [(Run(), config)])
    audio = {}
    for track in ("Track00013", "Track00014"):
        path = tmp_path / "corpus" / track / "mix.flac"
        path.parent.mkdir(parents=True)
        sf.write(path, np.zeros(8000, np.float32), 8000)
        audio[track] = str(path)
    predicted = predict_new_songs.fn(audio, str(tmp_path / "run"), str(tmp_path / "out"))
    assert {tid: Path(p["json"]).name for tid, p in predicted.items()} == {
        "Track00013": "Track00013.json", "Track00014": "Track00014.json"}
    assert json.loads(Path(predicted["Track00014"]["json"]).read_text())["audio"] == audio["Track00014"]
    assert SONGS  # the shared corpus constants stay importable


def test_train_model_applies_the_cli_rules_and_device_choice(prefect_harness, store_template, tmp_path, monkeypatch):
    """``attention`` on crnn and ``device="cuda"`` without CUDA fail the run with the one line
    `instrec train` prints, before anything is written."""
    import torch

    from flows.train import train_model

    out = tmp_path / "run"
    state = train_model(store=store_template, out=str(out), model="crnn", options={"attention": True},
                        return_state=True)
    assert state.is_failed()
    assert state.message == ("parameters: attention applies to model crnn-gru only, not 'crnn'; "
                             "drop it or train crnn-gru")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    state = train_model(store=store_template, out=str(out), model="mlp", device="cuda", return_state=True)
    assert state.is_failed()
    assert state.message.startswith("device cuda was requested but torch sees no CUDA device")
    assert "\n" not in state.message and not out.exists()


def test_every_deployment_s_parameters_fit_its_flow_s_schema():
    """What the server checks when ``prefect deploy`` registers prefect.yaml (``enforce_parameter_schema``):
    a parameter added to a deployment (``keep_history: 1d``) must be one the flow takes, of its type."""
    import importlib

    import yaml
    from prefect.utilities.schema_tools.validation import validate

    deployments = yaml.safe_load((Path(__file__).resolve().parents[2] / "prefect.yaml").read_text())["deployments"]
    checked = set()
    for deployment in deployments:
        path, name = deployment["entrypoint"].split(":")
        flow = getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), name)
        schema = parameter_schema(flow.fn).model_dump_for_openapi()
        validate(deployment.get("parameters", {}), schema, raise_on_error=True, ignore_required=True)
        assert set(deployment.get("parameters", {})) <= set(schema["properties"]), deployment["name"]
        checked.add(name)
    assert "reprocess_new_songs" in checked
    (reprocess,) = [d for d in deployments if d["entrypoint"].endswith(":reprocess_new_songs")]
    assert reprocess["parameters"]["keep_history"] == "1d"
