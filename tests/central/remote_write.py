"""Prometheus remote-write 1.0 payloads without dependencies.

A WriteRequest is protobuf (prompb) compressed with snappy's block format. We
encode the protobuf by hand (only Label and Sample are needed) and emit snappy
as literal-only blocks, which every snappy decoder accepts (the format allows a
block to be all literals; it just does not shrink).
"""
import struct


def _varint(n):
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        bits = n & 0x7F
        n >>= 7
        if n:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _field_bytes(number, payload):
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _label(name, value):
    return _field_bytes(1, name.encode()) + _field_bytes(2, value.encode())


def _sample(value, timestamp_ms):
    return (_varint(1 << 3 | 1) + struct.pack("<d", float(value))
            + _varint(2 << 3 | 0) + _varint(int(timestamp_ms)))


def encode_write_request(series):
    """``series``: iterable of (labels: dict incl. __name__, samples: [(ts_ms, value)])."""
    out = bytearray()
    for labels, samples in series:
        ts = bytearray()
        for name in sorted(labels):
            ts += _field_bytes(1, _label(name, str(labels[name])))
        for timestamp_ms, value in sorted(samples):
            ts += _field_bytes(2, _sample(value, timestamp_ms))
        out += _field_bytes(1, bytes(ts))
    return bytes(out)


def snappy_block(data, chunk=65536):
    """Snappy block format, literal elements only."""
    out = bytearray(_varint(len(data)))
    for start in range(0, len(data), chunk):
        piece = data[start:start + chunk]
        n = len(piece) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 1 << 8:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + struct.pack("<H", n)
        out += piece
    return bytes(out)


def snappy_block_decode(data):
    """Decoder for literal-only blocks (what ``snappy_block`` writes); for tests."""
    pos, length, shift = 0, 0, 0
    while True:
        byte = data[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    out = bytearray()
    while pos < len(data):
        tag = data[pos]
        pos += 1
        if tag & 3:
            raise ValueError("copy elements are not supported by this decoder")
        n = tag >> 2
        if n == 60:
            n, pos = data[pos], pos + 1
        elif n == 61:
            n, pos = struct.unpack("<H", data[pos:pos + 2])[0], pos + 2
        elif n > 61:
            raise ValueError("literal too long for this decoder")
        out += data[pos:pos + n + 1]
        pos += n + 1
    if len(out) != length:
        raise ValueError("length mismatch: header %d, data %d" % (length, len(out)))
    return bytes(out)


def payload(series):
    return snappy_block(encode_write_request(series))
