"""End to end: scripts/serve.sh starts a real local Prefect server and workers, deploys
prefect.yaml, and `prefect deployment run ... --watch` runs the deployments; stop.sh ends it all.

Flow runs start in a temporary "checkout" (INSTREC_ROOT) holding a link to flows/ and a
small demo corpus under demo/corpus, so the deployments' default, relative parameters point
at test data and nothing is written into the repository.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from storage.store import open_store

from .conftest import SONGS, render_corpus

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the environment running the tests has prefect and instrec
IDS = [f"Track{i:05d}" for i in range(1, SONGS + 1)]
NEW = f"Track{SONGS + 1:05d}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pids_in(home: Path) -> list[int]:
    return [int(p.read_text()) for p in home.glob("*.pid")]


def group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(env, checkout): a served instance; every process it started is gone afterwards."""
    checkout = tmp_path_factory.mktemp("checkout")
    (checkout / "flows").symlink_to(REPO / "flows", target_is_directory=True)
    render_corpus(checkout / "demo" / "corpus")
    home = tmp_path_factory.mktemp("prefect-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), INSTREC_PREFECT_PORT=str(free_port()), INSTREC_ROOT=str(checkout),
               INSTREC_PYTHON_BIN=str(BIN), PREFECT_WORKER_QUERY_SECONDS="2",
               PREFECT_WORKER_PREFETCH_SECONDS="2")
    env["PREFECT_API_URL"] = f"http://127.0.0.1:{env['INSTREC_PREFECT_PORT']}/api"
    started: list[int] = []
    try:
        serve = subprocess.run(["bash", str(REPO / "scripts" / "serve.sh")], env=env, cwd=REPO,
                               capture_output=True, text=True, timeout=240)
        started = pids_in(home)
        assert serve.returncode == 0, serve.stdout + serve.stderr
        assert f"{env['PREFECT_API_URL']}" in (home / "env").read_text()
        yield env, checkout
    finally:
        started = started or pids_in(home)
        stop = subprocess.run(["bash", str(REPO / "scripts" / "stop.sh")], env=env, cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        left = [pid for pid in started if group_alive(pid)]
        for pid in left:  # stop.sh failed: do not leave processes behind
            os.killpg(pid, signal.SIGKILL)
        assert stop.returncode == 0 and not left, (stop.stdout, stop.stderr, left)


def prefect(env: dict, *args: str, timeout: float = 150) -> str:
    done = subprocess.run([str(BIN / "prefect"), *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def test_extract_features_deployment_builds_the_demo_store(served):
    env, checkout = served
    output = prefect(env, "deployment", "run", "extract-features/demo", "-p", "workers=1", "--watch")
    assert "Completed" in output
    store = open_store(str(checkout / "demo" / "stores" / "corpus.zarr"))
    assert [e.track_id for e in store.feature_set("logmel").tracks()] == IDS


def test_reprocess_deployment_is_scheduled(served):
    env, _ = served
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def read():
        async with get_client() as client:
            return await client.read_deployment_by_name("reprocess-new-songs/demo")

    with temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}):
        deployment = asyncio.run(read())
    schedules = {type(s.schedule).__name__: s for s in deployment.schedules}
    assert schedules["IntervalSchedule"].schedule.interval.total_seconds() == 600
    assert schedules["IntervalSchedule"].active
    assert schedules["CronSchedule"].schedule.cron == "0 3 * * *" and not schedules["CronSchedule"].active
    assert deployment.work_pool_name == "cpu" and deployment.parameters["root"] == "demo/corpus"


def test_reprocess_deployment_adds_exactly_the_new_song(served):
    env, checkout = served
    store_url = str(checkout / "demo" / "stores" / "corpus.zarr")
    reader = open_store(store_url).feature_set("logmel")
    assert [e.track_id for e in reader.tracks()] == IDS, "the extract-features test builds the store first"
    versions = [reader.record(tid)["path"] for tid in IDS]
    render_corpus(checkout / "demo" / "corpus", songs=SONGS + 1)
    output = prefect(env, "deployment", "run", "reprocess-new-songs/demo", "-p", "workers=1", "--watch")
    assert "Completed" in output
    reader = open_store(store_url).feature_set("logmel")
    assert [e.track_id for e in reader.tracks()] == IDS + [NEW]
    assert [reader.record(tid)["path"] for tid in IDS] == versions  # the old songs were not recomputed


def _run_id(output: str) -> str:
    import re

    return re.search(r"UUID: ([0-9a-f-]{36})", output).group(1)


def _logs(env: dict, flow_run_id: str) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def read():
        async with get_client() as client:
            return await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))

    with temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}):
        return [log.message for log in asyncio.run(read())]


def test_scheduled_reprocessing_before_make_demo_completes_with_a_warning(served):
    """A fresh `make serve`: the 600 s schedule runs before any corpus exists."""
    env, checkout = served
    assert not (checkout / "demo" / "not-yet").exists()
    output = prefect(env, "deployment", "run", "reprocess-new-songs/demo", "-p", "root=demo/not-yet", "--watch")
    assert "Completed" in output and "Failed" not in output
    logs = _logs(env, _run_id(output))
    assert any("demo/not-yet: no dataset folder here yet" in line for line in logs), logs


def test_a_bad_parameter_is_refused_at_submission_with_one_line(served):
    env, _ = served
    done = subprocess.run([str(BIN / "prefect"), "deployment", "run", "extract-features/demo", "-p", "dataset=mp3"],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in output, output
    # the server's one-line reason (the CLI wraps it at the terminal's width)
    assert ("Validation failed for field 'dataset'. Failure reason: 'mp3' is not one of ['aam', 'slakh', 'openmic', "
            "'folder', 'demo']") in " ".join(output.split()), output


def test_a_missing_root_fails_on_the_worker_with_one_line(served):
    env, _ = served
    done = subprocess.run([str(BIN / "prefect"), "deployment", "run", "extract-features/demo", "-p",
                           "root=demo/nowhere", "--watch"], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=150)
    output = done.stdout + done.stderr
    assert "Failed" in output, output
    logs = _logs(env, _run_id(output))
    reasons = [line for line in logs if line.startswith("parameter root='demo/nowhere'")]
    assert reasons == ["parameter root='demo/nowhere': demo/nowhere: dataset root is not a folder; pass the folder "
                       "holding the dataset"], logs
    # no pydantic report anywhere; Prefect's engine adds its traceback to every failed run on a worker,
    # and that one ends with the same line
    assert not [line for line in logs if "validation error for" in line or "errors.pydantic.dev" in line], logs
    assert all(line.rstrip().endswith(reasons[0]) for line in logs if "Traceback" in line), logs
