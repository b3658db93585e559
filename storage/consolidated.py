"""The root group's consolidated metadata: the committed hierarchy, for readers that are not instrec.

``xarray.open_zarr(url, group=path)`` and ``xarray.open_datatree(url)`` first open the store's
root with its consolidated metadata.  Without it they list the root, warn that the store is not
consolidated and that ``manifest.json`` (and ``runs/``, ``.lock``...) are "not recognized as a
component of a Zarr hierarchy".  So at every commit the lock holder rewrites ``URL/zarr.json``
with the feature-set groups and every committed track (and stem) version group, with the same
attributes their own ``zarr.json`` holds, just before the manifest.  Version groups carry no
array metadata here (that would make the root document five times larger): a reader opening
one lists the version's folder, which holds only its arrays; the version's own ``zarr.json``
consolidates them for readers that open the version directly
(``xarray.open_zarr(f"{url}/{path}")``).

It lists exactly what the manifest about to be committed holds: the latest snapshot (versions of
older snapshots stay on disk until ``instrec store expire``, but a reader of the root sees the
latest only; older snapshots are read through instrec, ``open_store(url, snapshot=ID)``).
instrec itself never reads this document: it goes from the manifest to the arrays.
"""

from __future__ import annotations

import json
from typing import Any

from storage.layout import SCHEMA_VERSION, STEMS, TRACKS
from storage.schema import FeatureSetSpec, TrackMeta, track_attributes


def root_attributes(manifest: dict) -> dict[str, Any]:
    """The root group's own attributes (as :meth:`storage.store.FeatureStore.initialize` writes them)."""
    return {"instrec_schema_version": SCHEMA_VERSION, "dataset": manifest["dataset"],
            "classes": list(manifest["classes"])}


def version_attributes(track_id: str, spec: FeatureSetSpec, record: dict, *, stems: bool) -> dict[str, Any]:
    """A committed version group's attributes, from its manifest record."""
    attributes = track_attributes(track_id, spec, {k: record[k] for k in TrackMeta.FIELDS if k in record})
    if stems:
        attributes.update(stems=record.get("stems", []), excluded=record.get("excluded", []))
    return attributes


def root_metadata(manifest: dict) -> bytes:
    """``URL/zarr.json``: the root group with the committed hierarchy consolidated into it.

    Written as zarr-python writes consolidated metadata (the flattened form: one entry per node,
    keyed by its path; a group with children says so with an empty ``consolidated_metadata``),
    but as compact JSON built directly, which is several times faster than going through
    zarr's metadata classes for thousands of tracks.

    Parameters
    ----------
    manifest : dict
        The manifest about to be committed.

    Returns
    -------
    bytes
        The JSON document.
    """
    def group(attributes: dict, *, parent: bool) -> dict:
        node: dict[str, Any] = {"attributes": attributes, "zarr_format": 3, "node_type": "group"}
        if parent:
            node["consolidated_metadata"] = {"kind": "inline", "must_understand": False, "metadata": {}}
        return node

    nodes: dict[str, dict] = {}
    for key, doc in manifest["feature_sets"].items():
        spec = FeatureSetSpec.from_json(doc)
        nodes[key] = group(spec.to_json(), parent=True)
        for level in (TRACKS, STEMS):
            if not doc.get(level):
                continue
            nodes[f"{key}/{level}"] = group({}, parent=True)
            for track_id, record in doc[level].items():
                slug = record["path"].rsplit("/", 1)[0]
                nodes.setdefault(slug, group({}, parent=True))
                nodes[record["path"]] = group(version_attributes(track_id, spec, record, stems=level == STEMS),
                                              parent=False)
    root = group(root_attributes(manifest), parent=True)
    root["consolidated_metadata"]["metadata"] = nodes
    return json.dumps(root, separators=(",", ":"), allow_nan=False).encode()
