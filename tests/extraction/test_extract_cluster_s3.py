"""A real multi-process Dask cluster writing into an S3 store (moto_server), equal to a local run.

Everything runs as separate processes on 127.0.0.1, as on a multi-node cluster: ``dask
scheduler``, two ``dask worker`` processes (one thread each), ``moto_server`` as the S3 endpoint,
and ``instrec extract --dask-address ... --store s3://...`` as the driver.  The workers get the
S3 credentials from their environment only; the endpoint travels with the pickled store writer.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

pytestmark = pytest.mark.slow

FEATURES = "logmel,scalogram"
S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
          "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tool(name: str) -> str:
    path = shutil.which(name, path=os.path.dirname(sys.executable)) or shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed next to {sys.executable}")
    return path


def _wait_for(check, *, what: str, procs: list[subprocess.Popen], timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"{what}: {dead[0].args[0]} exited with {dead[0].returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not ready after {timeout:.0f} s")
        time.sleep(0.2)


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def _stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM every process (workers first), then SIGKILL whatever is still alive after 10 s."""
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for proc in reversed(procs):
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture
def cluster_env(tmp_path):
    """moto_server + dask scheduler + 2 dask workers, all on 127.0.0.1; yields (endpoint, address, env)."""
    env = {**os.environ, **S3_ENV, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    logs = tmp_path / "logs"
    logs.mkdir()
    procs: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> subprocess.Popen:
        log = open(logs / f"{name}.log", "wb")
        proc = subprocess.Popen([*args], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
        log.close()
        procs.append(proc)
        return proc

    try:
        s3_port = _free_port()
        start("moto", _tool("moto_server"), "-H", "127.0.0.1", "-p", str(s3_port))
        scheduler_file = tmp_path / "scheduler.json"
        start("scheduler", _tool("dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
              "--no-dashboard", "--scheduler-file", str(scheduler_file))
        _wait_for(scheduler_file.exists, what="dask scheduler", procs=procs)
        for i in range(2):
            start(f"worker{i}", _tool("dask"), "worker", "--scheduler-file", str(scheduler_file),
                  "--host", "127.0.0.1", "--nthreads", "1", "--nworkers", "1", "--memory-limit", "1.5GiB",
                  "--no-dashboard", "--name", f"w{i}", "--local-directory", str(tmp_path / f"w{i}"))
        _wait_for(lambda: _port_open(s3_port), what="moto_server", procs=procs)
        address = json.loads(scheduler_file.read_text())["address"]

        from dask.distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=45)
            assert len(client.scheduler_info()["workers"]) == 2
        import boto3

        endpoint = f"http://127.0.0.1:{s3_port}"
        boto3.client("s3", endpoint_url=endpoint, **{k.lower(): v for k, v in S3_ENV.items()
                                                     if k != "AWS_DEFAULT_REGION"},
                     region_name="us-east-1").create_bucket(Bucket="instrec")
        yield endpoint, address, env
    except BaseException:
        for log in sorted(logs.glob("*.log")):  # a cluster that fails to start: pytest shows why
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        raise
    finally:
        _stop(procs)


def _instrec(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([_tool("instrec"), *args], env=env, capture_output=True, text=True, timeout=120)


def test_dask_cluster_extracts_into_s3_equal_to_local(tmp_path, cluster_env, monkeypatch):
    from pipeline.demo import generate_corpus

    endpoint, address, env = cluster_env
    corpus = tmp_path / "corpus"
    generate_corpus(corpus, layout="slakh", songs=4, seconds=4, seed=0, workers=2)
    url = "s3://instrec/stores/slakh"

    done = _instrec("extract", str(corpus), "--dataset", "slakh", "--store", url, "--features", FEATURES,
                    "--endpoint-url", endpoint, "--dask-address", address, "--no-progress", "--json", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["done"] == 4 and summary["failed"] == [], summary

    local = tmp_path / "local-store"
    ran = _instrec("extract", str(corpus), "--dataset", "slakh", "--store", str(local), "--features", FEATURES,
                   "--workers", "0", "--no-progress", "--json", env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr

    verified = _instrec("store", "verify", url, "--deep", "--endpoint-url", endpoint, env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    options = {"client_kwargs": {"endpoint_url": endpoint}}
    _assert_same_store(str(local), url, storage_options=options)

    # The same cluster driven from Python with one song per task: both workers must take part.
    from dask.distributed import Client, get_task_stream

    from pipeline.extraction import FeatureTarget, extract_dataset
    from pipeline.readers import read_dataset
    from pipeline.vggish_options import build_feature_configs

    targets = [FeatureTarget.from_config(c) for c in build_feature_configs(FEATURES.split(","))]
    url_b = "s3://instrec/stores/slakh-per-song"
    with Client(address) as client, get_task_stream(client) as stream:
        summary_b = extract_dataset(read_dataset("slakh", corpus), url_b, targets=targets, dask_address=address,
                                    storage_options=options, progress=False, max_batch_seconds=1.0)
    assert len(summary_b.done) == 4 and summary_b.failed == []
    extract_tasks = [t for t in stream.data if str(t["key"]).startswith("extract_batch")]
    assert len(extract_tasks) == 4 and len({t["worker"] for t in extract_tasks}) == 2, extract_tasks
    _assert_same_store(str(local), url_b, storage_options=options)


def _assert_same_store(url_a: str, url_b: str, *, storage_options: dict) -> None:
    """Per feature set and track: n_frames, content hash, split, features, labels, masks, clip labels."""
    from storage.store import open_store

    a, b = open_store(url_a), open_store(url_b, storage_options=storage_options)
    assert a.classes == b.classes and sorted(a.feature_sets()) == sorted(b.feature_sets())
    assert len(a.feature_sets()) == 2
    for key in a.feature_sets():
        ra, rb = a.feature_set(key), b.feature_set(key)
        entries_a, entries_b = ra.tracks(), rb.tracks()
        assert [e.track_id for e in entries_a] == [e.track_id for e in entries_b] and len(entries_a) == 4
        for ea, eb in zip(entries_a, entries_b):
            assert (ea.n_frames, ea.content_hash, ea.split, ea.dominant) == \
                (eb.n_frames, eb.content_hash, eb.split, eb.dominant), ea.track_id
            fa, fb = ra.read_features(ea.track_id), rb.read_features(eb.track_id)
            assert fa.shape == (ea.n_frames, *ra.frame_shape) and np.array_equal(fa, fb), (key, ea.track_id)
            (ya, ma), (yb, mb) = ra.read_labels(ea.track_id), rb.read_labels(eb.track_id)
            assert np.array_equal(ya, yb) and np.array_equal(ma, mb), (key, ea.track_id)
            assert ya.any(), f"{ea.track_id}: no active label frame; the comparison would be vacuous"
            for x, y in zip(ra.read_clip(ea.track_id), rb.read_clip(eb.track_id)):
                assert np.array_equal(x, y)
