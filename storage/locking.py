"""One writer at a time per store (and per training run directory, ``training.loop.train``).

The lock is a small JSON object ``URL/.lock`` (pid, host, run id, time) created with an
exclusive create: ``O_CREAT | O_EXCL`` on a local disk, a conditional PUT
(``If-None-Match: *``) on S3.  A second writer gets :class:`StoreLockedError` naming the
holder.  A lock left by a killed process is stale and taken over: locally when its pid no
longer runs on this host, anywhere when it is older than ``stale_after_s`` without a
heartbeat (the holder refreshes it at every commit).
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import dataclass, field

from core.errors import StoreLockedError  # re-exported: defined in core.errors
from storage.layout import LOCK, StoreLocation


# An empty local lock file younger than this is a lock being written, not a crashed one.
EMPTY_LOCK_GRACE_S = 10.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class StoreLock:
    """Exclusive writer lock on a store; use as a context manager or acquire()/release()."""

    loc: StoreLocation
    stale_after_s: float = 3600.0
    # What the holder is doing, for the message a second writer gets.
    activity: str = "another extraction is writing to this store"
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    held: bool = False

    def _document(self) -> bytes:
        return json.dumps(
            {"pid": os.getpid(), "host": socket.gethostname(), "run_id": self.run_id, "time": time.time()}
        ).encode()

    def _read(self) -> dict | None:
        try:
            self.loc.fs.invalidate_cache()
            with self.loc.fs.open(self.loc.path(LOCK), "rb") as handle:
                return json.loads(handle.read().decode() or "{}")
        except FileNotFoundError:
            return None
        except (ValueError, OSError):
            return {}

    def _create(self) -> bool:
        path = self.loc.path(LOCK)
        if self.loc.is_local:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as handle:
                handle.write(self._document())
            return True
        try:
            self.loc.fs.pipe_file(path, self._document(), mode="create")
        except (FileExistsError, OSError) as exc:
            if isinstance(exc, FileExistsError) or "PreconditionFailed" in str(exc) or "412" in str(exc):
                return False
            raise
        return True

    def _is_stale(self, holder: dict) -> bool:
        if not holder:  # empty or unreadable: a crash while creating it, or a lock being created now
            if not self.loc.is_local:
                return True  # an object store writes the lock document in one PUT: never half-written
            try:
                return time.time() - os.path.getmtime(self.loc.path(LOCK)) > EMPTY_LOCK_GRACE_S
            except FileNotFoundError:
                return False
        age = time.time() - float(holder.get("time", 0))
        if age > self.stale_after_s:
            return True
        if self.loc.is_local and holder.get("host") == socket.gethostname():
            return not _pid_alive(int(holder.get("pid", -1)))
        return False

    def acquire(self) -> "StoreLock":
        for _ in range(3):
            if self._create():
                self.held = True
                return self
            holder = self._read()
            if holder is None:
                continue  # released meanwhile
            if self._is_stale(holder):
                self.loc.fs.rm(self.loc.path(LOCK))
                continue
            raise StoreLockedError(
                f"{self.loc.url}: {self.activity} (pid {holder.get('pid')} on "
                f"{holder.get('host')}, run {holder.get('run_id')}, started "
                f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(float(holder.get('time', 0))))}); "
                f"wait for it to finish, or delete {self.loc.path(LOCK)} if that process is gone"
            )
        raise StoreLockedError(f"{self.loc.url}: could not take the writer lock; try again")

    def refresh(self) -> None:
        """Heartbeat: rewrite the lock with the current time (the holder only)."""
        if not self.held:
            return
        path = self.loc.path(LOCK)
        if self.loc.is_local:
            tmp = f"{path}.{self.run_id}"
            with open(tmp, "wb") as handle:
                handle.write(self._document())
            os.replace(tmp, path)
        else:
            self.loc.fs.pipe_file(path, self._document())

    def release(self) -> None:
        if not self.held:
            return
        holder = self._read()
        if holder is not None and holder.get("run_id") in (self.run_id, None):
            try:
                self.loc.fs.rm(self.loc.path(LOCK))
            except FileNotFoundError:
                pass
        self.held = False

    def __enter__(self) -> "StoreLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
