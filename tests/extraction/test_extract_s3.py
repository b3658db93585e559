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


def test_s3_snapshots_expiry_and_lost_chunks(make_track, s3_endpoint):
    import boto3

    from storage.history import expire_snapshots
    from storage.store import StoreDataError

    options = {"client_kwargs": {"endpoint_url": s3_endpoint}}
    targets = [FeatureTarget.from_config(build_config("logmel"))]
    url = "s3://instrec/stores/snapshots"
    extract_dataset([make_track("a", duration=1.5), make_track("b")], url, targets=targets, workers=0,
                    progress=False, storage_options=options)
    old = open_store(url, storage_options=options)
    old_reader = old.feature_set("logmel")
    before = old_reader.read_features("a")
    changed = make_track("a", duration=2.5)
    extract_dataset([changed, make_track("b")], url, targets=targets, workers=0, progress=False, storage_options=options)
    assert old_reader.read_features("a").shape == before.shape  # the old snapshot's version is still there
    pinned = open_store(url, storage_options=options, snapshot=old.snapshot_id)
    assert pinned.feature_set("logmel").tracks()[0].duration == 1.5
    assert expire_snapshots(url, older_than_s=0, storage_options=options).expired == [old.snapshot_id]
    with pytest.raises(StoreDataError, match=f"snapshot {old.snapshot_id} was expired"):
        old_reader.read_labels("a")
    latest = open_store(url, storage_options=options).feature_set("logmel")
    key = f"stores/snapshots/{latest.record('b')['path']}/features/c.0.0"
    boto3.client("s3", endpoint_url=s3_endpoint).delete_object(Bucket="instrec", Key=key)
    with pytest.raises(StoreDataError, match="'b' has lost a chunk"):
        open_store(url, storage_options=options).feature_set("logmel").read_features("b")
