"""The fsspec storage options of a store URL, built in one place for the CLI, the flows and the library.

Every entry point that takes an S3 endpoint (``--endpoint-url`` on the command line, added by
:func:`add_endpoint_url`; ``endpoint_url`` in a flow) turns it into fsspec options here.  Credentials are never options: they come from the
environment (``AWS_ACCESS_KEY_ID``..., or the worker's role), so nothing secret ends up in a run's
``config.json`` or a flow's parameters.  Standard library only: command modules import it.
"""

from __future__ import annotations

import argparse
from typing import Any, Mapping


def add_endpoint_url(parser: argparse.ArgumentParser, *, default: Any = None) -> None:
    """``--endpoint-url URL``, the same option in every command that reads or writes a store; the
    handler passes ``storage_options(endpoint_url=args.endpoint_url)`` on."""
    parser.add_argument("--endpoint-url", default=default, metavar="URL",
                        help="S3 endpoint of s3:// stores (MinIO, moto: e.g. http://127.0.0.1:9000); default: AWS")


def storage_options(*, endpoint_url: str | None = None,
                    extra: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """fsspec options for ``open_store(url, storage_options=...)``, or None when there are none.

    Parameters
    ----------
    endpoint_url : str or None
        S3-compatible endpoint (MinIO, moto, Ceph: ``http://127.0.0.1:9000``); None or empty is AWS
        (or whatever the URL's filesystem does by default).
    extra : mapping or None
        Other fsspec options (``{"anon": True}``...); its ``client_kwargs`` are kept, with
        ``endpoint_url`` added to them.

    Returns
    -------
    dict or None
        ``{"client_kwargs": {"endpoint_url": ...}, **extra}``; None when neither is given, so
        callers pass the result on unchanged.

    Examples
    --------
    >>> storage_options(endpoint_url="http://127.0.0.1:9000")
    {'client_kwargs': {'endpoint_url': 'http://127.0.0.1:9000'}}
    >>> storage_options() is None
    True
    """
    options: dict[str, Any] = dict(extra or {})
    if endpoint_url:
        client = options.get("client_kwargs") or {}
        if not isinstance(client, Mapping):
            raise ValueError(f"storage option client_kwargs must be a mapping, got {type(client).__name__}")
        options["client_kwargs"] = {**client, "endpoint_url": endpoint_url}
    return options or None
