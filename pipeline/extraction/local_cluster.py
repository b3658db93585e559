"""The local Dask cluster of an extraction: every listener on 127.0.0.1, no dashboard.

Used by ``instrec extract`` (:class:`pipeline.extraction.driver._Cluster`) and by the
``extract-features`` flow's ``DaskTaskRunner`` (``flows/extract.py``); import it only when a
local cluster is needed (it imports ``dask.distributed``).
"""

from __future__ import annotations

import logging

from dask.distributed import LocalCluster

LOOPBACK = "127.0.0.1"


class LoopbackCluster(LocalCluster):
    """A LocalCluster whose scheduler serves no dashboard pages, so it advertises no link.

    An in-process cluster's scheduler address names the machine's network address
    (``inproc://<host-ip>/...``), so the inherited link would point at an interface nothing
    listens on (Prefect logs it as "The Dask dashboard is available at ...").
    """

    @property
    def dashboard_link(self) -> str:
        return ""


def start_local_cluster(*, workers: int, processes: bool = False) -> LoopbackCluster:
    """A Dask cluster on this machine that listens on 127.0.0.1 only, without dashboard.

    Every listener binds to the loopback address: the scheduler and the workers (their comm
    ports, and the nannies', when ``processes`` is true) and the HTTP server that the
    scheduler and each worker always start (health and metrics routes).  Left to itself, an
    in-process cluster (``processes=False``, whose comms are ``inproc://`` queues, not
    sockets) binds those HTTP servers to every interface, the scheduler's on port 8787 of
    every IPv4 and IPv6 address.  The scheduler's dashboard pages are off (a worker's own
    pages, served only when bokeh is installed, stay on 127.0.0.1); the ports are chosen by
    the OS, so two runs never compete for 8787.

    Parameters
    ----------
    workers : int
        Threads of the one in-process worker, or (``processes``) worker processes of one thread.
    processes : bool
        One process per worker instead of threads in this process.

    Returns
    -------
    LoopbackCluster
    """
    listen = {
        "dashboard_address": f"{LOOPBACK}:0",  # the scheduler's HTTP server ...
        "scheduler_kwargs": {"dashboard": False},  # ... without the dashboard pages
        "worker_dashboard_address": f"{LOOPBACK}:0",  # each worker's HTTP server
        "silence_logs": logging.ERROR,
    }
    if processes:
        return LoopbackCluster(n_workers=workers, threads_per_worker=1, processes=True, host=LOOPBACK, **listen)
    # inproc:// comms take no host; only the HTTP servers are sockets
    return LoopbackCluster(n_workers=1, threads_per_worker=workers, processes=False, **listen)
