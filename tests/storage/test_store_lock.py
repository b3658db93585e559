import json
import os
import socket
import subprocess
import sys
import time

import pytest

from storage.locking import StoreLockedError
from storage.store import StoreError, open_store


def test_second_writer_is_refused_clearly(small_store):
    url, _ = small_store
    with open_store(url, mode="a"):
        with pytest.raises(StoreLockedError, match=r"another extraction is writing to this store \(pid \d+"):
            open_store(url, mode="a")
        assert open_store(url).feature_set("logmel").tracks()  # readers are not blocked
    with open_store(url, mode="a"):  # released on close
        pass


def test_lock_of_a_dead_process_is_taken_over(small_store):
    url, _ = small_store
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with open(os.path.join(url, ".lock"), "w") as handle:
        json.dump({"pid": dead.pid, "host": socket.gethostname(), "run_id": "crashed", "time": time.time()}, handle)
    with open_store(url, mode="a") as store:
        assert store.feature_sets()
    assert not os.path.exists(os.path.join(url, ".lock"))


def test_read_only_store_refuses_writes(small_store):
    url, _ = small_store
    with pytest.raises(StoreError, match="read-only"):
        open_store(url).commit()


def test_non_store_directory_is_refused(tmp_path):
    (tmp_path / "data.txt").write_text("not a store")
    with pytest.raises(StoreError, match="not empty and holds no manifest.json"):
        open_store(str(tmp_path), mode="a")
