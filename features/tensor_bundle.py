"""A reader of TensorFlow's checkpoint format (the "tensor bundle"), without TensorFlow.

A TF1 checkpoint ``<prefix>`` is two files:

* ``<prefix>.index``: a LevelDB-style sorted table (blocks of prefix-compressed keys, each with
  a 5-byte trailer: compression type and masked crc32c; an index block; a 48-byte footer
  ending in the magic ``0xdb4775248b80fb57``).  Key ``""`` holds a ``BundleHeaderProto``
  (shard count, endianness); every other key is a variable name whose value is a
  ``BundleEntryProto``: dtype, shape, shard, byte offset and size in the data file, and the
  masked crc32c of the tensor's bytes.
* ``<prefix>.data-00000-of-00001``: the tensors' raw bytes, little-endian, back to back.

:func:`read_tensor_bundle` parses both from bytes (no files: the caller reads them), checks
every block's and every tensor's crc32c, and returns numpy arrays.  Only what TF1 ``Saver``
writes for dense variables is accepted (one shard, no compression, no slices); anything else
raises :class:`TensorBundleError` naming the file.

The protobuf messages are decoded by hand (a few varint fields), so neither TensorFlow nor
protobuf is needed.  Formats: ``tensorflow/core/util/tensor_bundle/tensor_bundle.{h,cc}``,
``tensorflow/core/protobuf/tensor_bundle.proto``, ``tensorflow/core/lib/io/format.cc``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import google_crc32c
import numpy as np

from core.errors import TensorBundleError  # re-exported: defined in core.errors

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER_SIZE = 5
_MASK_DELTA = 0xA282EAD8

# tensorflow/core/framework/types.proto: DataType -> numpy dtype (little-endian)
DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"), 2: np.dtype("<f8"), 3: np.dtype("<i4"), 4: np.dtype("u1"),
    5: np.dtype("<i2"), 6: np.dtype("i1"), 9: np.dtype("<i8"), 10: np.dtype("?"),
    17: np.dtype("<u2"), 19: np.dtype("<f2"), 22: np.dtype("<u4"), 23: np.dtype("<u8"),
}


@dataclass(frozen=True)
class BundleEntry:
    """Where one tensor lies in the data file (a decoded ``BundleEntryProto``)."""

    name: str
    dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int  # masked, as stored
    n_slices: int


def mask_crc(crc: int) -> int:
    """LevelDB / TensorFlow's masked crc32c: rotate right by 15 bits and add a constant."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def masked_crc32c(data: bytes | memoryview) -> int:
    return mask_crc(google_crc32c.value(bytes(data)))


def _varint(buf: bytes, pos: int, label: str) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise TensorBundleError(f"{label}: truncated varint; the file is damaged or not a checkpoint index")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise TensorBundleError(f"{label}: malformed varint; the file is damaged or not a checkpoint index")


def _fields(buf: bytes, label: str) -> list[tuple[int, int | bytes]]:
    """(field number, value) of a protobuf message: ints for varint/fixed, bytes for length-delimited."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos, label)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos, label)
        elif wire == 1:
            value, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        elif wire == 5:
            value, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        elif wire == 2:
            length, pos = _varint(buf, pos, label)
            value, pos = buf[pos : pos + length], pos + length
        else:
            raise TensorBundleError(f"{label}: unsupported protobuf wire type {wire}; not a checkpoint index")
        if pos > len(buf):
            raise TensorBundleError(f"{label}: truncated protobuf message; the file is damaged")
        out.append((number, value))
    return out


def _shape(buf: bytes, label: str) -> tuple[int, ...]:
    dims = []
    for number, value in _fields(buf, label):
        if number == 2:  # repeated Dim dim = 2 { int64 size = 1; string name = 2; }
            dims.append(next((int(v) for n, v in _fields(value, label) if n == 1), 0))
        elif number == 3 and value:
            raise TensorBundleError(f"{label}: a tensor of unknown rank; not a saved variable")
    return tuple(dims)


def parse_entry(name: str, value: bytes, label: str) -> BundleEntry:
    """Decode a ``BundleEntryProto``."""
    fields: dict[int, int | bytes] = {}
    n_slices = 0
    for number, v in _fields(value, label):
        if number == 7:
            n_slices += 1
        else:
            fields[number] = v
    return BundleEntry(
        name=name, dtype=int(fields.get(1, 0)), shape=_shape(fields.get(2, b""), label),
        shard_id=int(fields.get(3, 0)), offset=int(fields.get(4, 0)), size=int(fields.get(5, 0)),
        crc32c=int(fields.get(6, 0)), n_slices=n_slices,
    )


def _block(index: bytes, offset: int, size: int, label: str) -> bytes:
    end = offset + size + BLOCK_TRAILER_SIZE
    if offset < 0 or end > len(index):
        raise TensorBundleError(f"{label}: a block lies past the end of the file; the index is truncated")
    contents = index[offset : offset + size]
    kind = index[offset + size]
    (stored,) = struct.unpack_from("<I", index, offset + size + 1)
    if masked_crc32c(index[offset : offset + size + 1]) != stored:
        raise TensorBundleError(f"{label}: block at byte {offset} fails its crc32c check; the index is damaged")
    if kind != 0:
        raise TensorBundleError(f"{label}: compressed table blocks (type {kind}) are not supported")
    return contents


def _block_entries(block: bytes, label: str) -> list[tuple[bytes, bytes]]:
    if len(block) < 4:
        raise TensorBundleError(f"{label}: a table block of {len(block)} bytes; the index is damaged")
    (n_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    limit = len(block) - 4 - 4 * n_restarts
    if limit < 0:
        raise TensorBundleError(f"{label}: bad restart count in a table block; the index is damaged")
    entries, pos, key = [], 0, b""
    while pos < limit:
        shared, pos = _varint(block, pos, label)
        unshared, pos = _varint(block, pos, label)
        length, pos = _varint(block, pos, label)
        if shared > len(key) or pos + unshared + length > limit:
            raise TensorBundleError(f"{label}: bad entry in a table block; the index is damaged")
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        entries.append((key, block[pos : pos + length]))
        pos += length
    return entries


def read_bundle_index(index: bytes, *, label: str = "<index>") -> dict[str, BundleEntry]:
    """Every tensor entry of a checkpoint ``.index`` file, by variable name.

    Raises
    ------
    TensorBundleError
        Not a table (wrong magic), a damaged block (crc32c), a big-endian or multi-shard
        bundle, or an entry that is not a plain dense tensor.
    """
    if len(index) < FOOTER_SIZE:
        raise TensorBundleError(f"{label}: {len(index)} bytes is too short for a checkpoint index")
    footer = index[-FOOTER_SIZE:]
    (magic,) = struct.unpack_from("<Q", footer, FOOTER_SIZE - 8)
    if magic != TABLE_MAGIC:
        raise TensorBundleError(f"{label}: not a TensorFlow checkpoint index (bad magic number)")
    _, pos = _varint(footer, 0, label)  # metaindex handle: unused
    _, pos = _varint(footer, pos, label)
    index_offset, pos = _varint(footer, pos, label)
    index_size, _ = _varint(footer, pos, label)
    entries: dict[str, BundleEntry] = {}
    header_seen = False
    for _, handle in _block_entries(_block(index, index_offset, index_size, label), label):
        offset, pos = _varint(handle, 0, label)
        size, _ = _varint(handle, pos, label)
        for key, value in _block_entries(_block(index, offset, size, label), label):
            if key == b"":
                header = dict(_fields(value, label))
                if int(header.get(1, 1)) != 1 or int(header.get(2, 0)) != 0:
                    raise TensorBundleError(
                        f"{label}: only single-shard little-endian checkpoints are supported "
                        f"(num_shards {header.get(1, 1)}, endianness {header.get(2, 0)})"
                    )
                header_seen = True
                continue
            name = key.decode("utf-8", errors="replace")
            entries[name] = parse_entry(name, value, label)
    if not header_seen:
        raise TensorBundleError(f"{label}: the index has no bundle header; not a TF2-era tensor bundle")
    return entries


def read_tensor_bundle(
    index: bytes, data: bytes, *, names: set[str] | None = None,
    index_label: str = "<index>", data_label: str = "<data>",
) -> dict[str, np.ndarray]:
    """The tensors of a checkpoint, each checked against its crc32c.

    Parameters
    ----------
    index, data : bytes
        The ``.index`` and ``.data-00000-of-00001`` files.
    names : set of str, optional
        Read only these variables (default all); a name not in the index is an error.
    index_label, data_label : str
        File names for messages.

    Returns
    -------
    tensors : dict of str to np.ndarray
        Read-only arrays in the stored dtype and shape.

    Raises
    ------
    TensorBundleError
        Damaged index, a tensor past the end of the data file (truncated), a crc32c mismatch,
        an unsupported dtype or a sliced (partitioned) variable; the message names the file.
    """
    entries = read_bundle_index(index, label=index_label)
    wanted = set(entries) if names is None else set(names)
    missing = sorted(wanted - set(entries))
    if missing:
        raise TensorBundleError(f"{index_label}: no variables {missing[:4]} in this checkpoint; is it the right model?")
    out: dict[str, np.ndarray] = {}
    for name in sorted(wanted):
        entry = entries[name]
        if entry.n_slices or entry.shard_id != 0:
            raise TensorBundleError(f"{index_label}: variable {name} is partitioned; not supported")
        dtype = DTYPES.get(entry.dtype)
        if dtype is None:
            raise TensorBundleError(f"{index_label}: variable {name} has unsupported dtype code {entry.dtype}")
        expected = int(np.prod(entry.shape, dtype=np.int64)) * dtype.itemsize
        if entry.size != expected:
            raise TensorBundleError(
                f"{index_label}: variable {name} holds {entry.size} bytes, its shape {entry.shape} needs {expected}"
            )
        if entry.offset + entry.size > len(data):
            raise TensorBundleError(
                f"{data_label}: {len(data)} bytes, but variable {name} ends at byte {entry.offset + entry.size}; "
                "the data file is truncated"
            )
        raw = memoryview(data)[entry.offset : entry.offset + entry.size]
        if masked_crc32c(raw) != entry.crc32c:
            raise TensorBundleError(
                f"{data_label}: variable {name} fails its crc32c check; the data file is damaged or belongs to "
                "another checkpoint"
            )
        out[name] = np.frombuffer(raw, dtype=dtype).reshape(entry.shape)
    return out
