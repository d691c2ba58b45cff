"""The hand-written remote-write encoder: bytes we can check, and the real
Prometheus accepting them."""
import secrets
import struct
import time

import pytest

from central import client, remote_write


def test_varint():
    assert remote_write._varint(1) == b"\x01"
    assert remote_write._varint(300) == b"\xac\x02"
    assert remote_write._varint(150) == b"\x96\x01"  # the protobuf encoding guide's example
    assert remote_write._varint(1 << 35) == b"\x80\x80\x80\x80\x80\x01"


def test_write_request_bytes():
    data = remote_write.encode_write_request([({"__name__": "a", "b": "c"}, [(5, 1.0)])])
    label_a = b"\x0a\x0d" + b"\x0a\x08__name__" + b"\x12\x01a"
    label_b = b"\x0a\x06" + b"\x0a\x01b" + b"\x12\x01c"
    sample = b"\x12\x0b" + b"\x09" + struct.pack("<d", 1.0) + b"\x10\x05"
    series = label_a + label_b + sample
    assert data == b"\x0a" + bytes([len(series)]) + series


@pytest.mark.parametrize("size", [0, 1, 59, 60, 61, 255, 256, 257, 65536, 200000])
def test_snappy_literal_blocks_round_trip(size):
    data = bytes((i * 7) % 251 for i in range(size))
    assert remote_write.snappy_block_decode(remote_write.snappy_block(data)) == data


@pytest.mark.central
def test_prometheus_accepts_and_stores_exact_samples(central):
    name = "kubiya_rw_test_%s" % secrets.token_hex(4)
    now = client.now_ms()
    series = [({"__name__": name, "runner": "r", "component": c}, [(now - 1000, 1), (now, 2.5)])
              for c in ("a", "b")]
    assert central.push(series) == 204
    result = central.query("timestamp(%s)" % name, at=now / 1000.0)
    assert sorted((r["metric"]["component"], float(r["value"][1])) for r in result) == \
        [("a", now / 1000.0), ("b", now / 1000.0)]
    values = central.query(name, at=now / 1000.0)
    assert {r["value"][1] for r in values} == {"2.5"}


@pytest.mark.central
def test_old_samples_are_accepted_for_staleness_tests(central):
    name = "kubiya_rw_old_%s" % secrets.token_hex(4)
    old = int((time.time() - 600) * 1000)
    assert central.push([({"__name__": name}, [(old, 1)])]) == 204
    result = central.query("max_over_time(timestamp(%s)[1h:1m])" % name)
    assert abs(float(result[0]["value"][1]) - old / 1000.0) < 0.01
