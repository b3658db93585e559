"""The TF tensor-bundle reader on tiny bundles written here (LevelDB table + data file)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from features.tensor_bundle import (
    TABLE_MAGIC,
    TensorBundleError,
    mask_crc,
    masked_crc32c,
    read_bundle_index,
    read_tensor_bundle,
)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, wire: int, payload: bytes) -> bytes:
    return _varint(number << 3 | wire) + payload


def _entry(array: np.ndarray, offset: int, *, crc: int | None = None) -> bytes:
    dtype = {np.dtype("<f4"): 1, np.dtype("<i4"): 3}[array.dtype]
    shape = b"".join(_field(2, 2, _varint(len(d)) + d) for d in (_field(1, 0, _varint(n)) for n in array.shape))
    raw = array.tobytes()
    return (_field(1, 0, _varint(dtype)) + _field(2, 2, _varint(len(shape)) + shape) + _field(4, 0, _varint(offset))
            + _field(5, 0, _varint(len(raw))) + _field(6, 5, struct.pack("<I", masked_crc32c(raw) if crc is None else crc)))


def _block(entries: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(_varint(0) + _varint(len(k)) + _varint(len(v)) + k + v for k, v in entries)
    return body + struct.pack("<I", 0) + struct.pack("<I", 1)  # one restart point, at 0


def _with_trailer(block: bytes) -> bytes:
    return block + b"\x00" + struct.pack("<I", masked_crc32c(block + b"\x00"))


def write_bundle(tensors: dict[str, np.ndarray], *, bad_crc: str | None = None) -> tuple[bytes, bytes]:
    """(index, data) of a single-shard bundle, as TF1's Saver writes one (no compression)."""
    data, entries = b"", [(b"", _field(1, 0, _varint(1)))]  # BundleHeaderProto: num_shards 1
    for name in sorted(tensors):
        array = np.array(tensors[name], order="C")  # (ascontiguousarray would make scalars 1-d)
        entries.append((name.encode(), _entry(array, len(data), crc=0 if name == bad_crc else None)))
        data += array.tobytes()
    data_block = _with_trailer(_block(entries))
    meta_block = _with_trailer(_block([]))
    handle = _varint(0) + _varint(len(data_block) - 5)
    index_block = _with_trailer(_block([(entries[-1][0], handle)]))
    meta_off = len(data_block)
    index_off = meta_off + len(meta_block)
    handles = _varint(meta_off) + _varint(len(meta_block) - 5) + _varint(index_off) + _varint(len(index_block) - 5)
    footer = handles.ljust(40, b"\x00") + struct.pack("<Q", TABLE_MAGIC)
    return data_block + meta_block + index_block + footer, data


TENSORS = {
    "conv2d/kernel": np.arange(24, dtype=np.float32).reshape(2, 3, 1, 4) / 7,
    "conv2d/bias": np.array([0.5, -1.0, 2.0, 3.5], dtype=np.float32),
    "global_step": np.array(7, dtype=np.int32),
}


def test_masked_crc_is_leveldbs():
    # LevelDB's crc32c_test: Mask(Value("foo")) round trip and the rotate-and-add definition
    crc = 0xE3069283  # crc32c("123456789")
    assert masked_crc32c(b"123456789") == mask_crc(crc) == ((crc >> 15 | crc << 17) + 0xA282EAD8) & 0xFFFFFFFF


def test_reads_every_tensor_with_dtype_and_shape():
    index, data = write_bundle(TENSORS)
    out = read_tensor_bundle(index, data)
    assert sorted(out) == sorted(TENSORS)
    for name, array in TENSORS.items():
        assert out[name].dtype == array.dtype and out[name].shape == array.shape
        np.testing.assert_array_equal(out[name], array)
    entries = read_bundle_index(index)
    assert entries["conv2d/kernel"].offset == TENSORS["conv2d/bias"].nbytes  # sorted: bias first


def test_reads_only_the_names_asked_and_names_a_missing_one():
    index, data = write_bundle(TENSORS)
    assert list(read_tensor_bundle(index, data, names={"conv2d/bias"})) == ["conv2d/bias"]
    with pytest.raises(TensorBundleError, match=r"m\.index: no variables \['dense/kernel'\]"):
        read_tensor_bundle(index, data, names={"dense/kernel"}, index_label="m.index")


def test_a_tensor_failing_its_crc32c_is_refused():
    index, data = write_bundle(TENSORS)
    damaged = bytearray(data)
    damaged[TENSORS["conv2d/bias"].nbytes + 5] ^= 0x01  # one bit of conv2d/kernel
    with pytest.raises(TensorBundleError, match=r"m\.data: variable conv2d/kernel fails its crc32c check"):
        read_tensor_bundle(index, bytes(damaged), data_label="m.data")
    index, data = write_bundle(TENSORS, bad_crc="conv2d/bias")
    with pytest.raises(TensorBundleError, match="variable conv2d/bias fails its crc32c"):
        read_tensor_bundle(index, data)


def test_a_truncated_data_file_is_refused():
    index, data = write_bundle(TENSORS)
    with pytest.raises(TensorBundleError, match=r"m\.data: \d+ bytes, but variable .* ends at byte \d+; the data file is truncated"):
        read_tensor_bundle(index, data[:-3], data_label="m.data")


def test_a_damaged_or_foreign_index_is_refused():
    index, data = write_bundle(TENSORS)
    with pytest.raises(TensorBundleError, match="bad magic number"):
        read_tensor_bundle(index[:-1] + b"\x00", data)
    with pytest.raises(TensorBundleError, match="too short"):
        read_tensor_bundle(b"PK\x03\x04", data)
    damaged = bytearray(index)
    damaged[3] ^= 0xFF  # inside the first data block
    with pytest.raises(TensorBundleError, match="fails its crc32c check; the index is damaged"):
        read_tensor_bundle(bytes(damaged), data)
