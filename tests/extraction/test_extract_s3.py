"""Round trip through a local S3 server (moto_server on 127.0.0.1)."""

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from features.registry import build_config
from pipeline.extraction import FeatureTarget, extract_dataset
from storage.locking import StoreLockedError
from storage.store import open_store
from storage.verify import verify_store


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def s3_endpoint(monkeypatch):
    server = shutil.which("moto_server") or os.path.join(os.path.dirname(sys.executable), "moto_server")
    if not os.path.exists(server):
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    port = _free_port()
    proc = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_SESSION_TOKEN", "testing"), ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start")
                time.sleep(0.1)
        import boto3

        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="instrec")
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_s3_round_trip_equals_local(tmp_path, make_track, s3_endpoint, same_content):
    options = {"client_kwargs": {"endpoint_url": s3_endpoint}}
    tracks = [make_track(f"s{i}", duration=1.0 + i, split=["train", "test"][i % 2]) for i in range(3)]
    targets = [FeatureTarget.from_config(build_config("logmel"))]
    url = "s3://instrec/stores/demo"
    first = extract_dataset(tracks, url, targets=targets, workers=0, progress=False, storage_options=options)
    assert sorted(first.done) == ["s0", "s1", "s2"]
    again = extract_dataset(tracks, url, targets=targets, workers=0, progress=False, storage_options=options)
    assert again.done == [] and len(again.skipped) == 3
    extract_dataset(tracks, str(tmp_path / "local"), targets=targets, workers=0, progress=False)
    same_content(str(tmp_path / "local"), url, storage_options=options)
    assert verify_store(url, storage_options=options, deep=True).ok
    with open_store(url, mode="a", storage_options=options):  # conditional-create lock on S3
        with pytest.raises(StoreLockedError, match="another extraction"):
            open_store(url, mode="a", storage_options=options)
