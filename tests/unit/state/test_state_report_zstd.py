"""Reports are stored as one zstd frame of their msgpack: a sixth of the bytes for Redis to
hold and send; reports stored uncompressed still read; a bad frame reads as undecodable."""

from __future__ import annotations

import logging

import fakeredis
import msgspec
import pytest
import zstandard

from balancer.state.keys import Keys
from balancer.state.publish import publish_report
from balancer.state.report import (
    MAX_REPORT_BYTES,
    decode_report,
    decode_report_head,
    encode_report,
    report_msgpack,
    unpacked,
)
from balancer.state.snapshot_read import snapshot_from_redis
from tests.unit.state.factories import report

KEYS = Keys("t")
FORTY = report("kvm-1", tuple(f"kvm-1-vm-{i:03d}" for i in range(40)))


def test_stored_form_is_a_zstd_frame_of_the_msgpack() -> None:
    blob = encode_report(FORTY)
    assert zstandard.ZstdDecompressor().decompress(blob) == report_msgpack(FORTY)
    assert zstandard.frame_content_size(blob) == len(report_msgpack(FORTY))
    assert len(blob) < len(report_msgpack(FORTY)) / 4
    assert decode_report(blob) == FORTY
    assert decode_report_head(blob).vms == FORTY.vms


def test_an_uncompressed_report_still_reads() -> None:
    plain = report_msgpack(FORTY)
    assert unpacked(plain) is plain
    assert decode_report(plain) == FORTY


@pytest.mark.parametrize(
    "bad",
    [
        encode_report(FORTY)[:40],  # truncated
        b"\x28\xb5\x2f\xfd" + b"\x00" * 20,  # the magic, then garbage
        zstandard.ZstdCompressor(write_content_size=False).compress(report_msgpack(FORTY)),
        zstandard.ZstdCompressor().compress(b"\x00" * (MAX_REPORT_BYTES + 1)),  # a bomb
    ],
    ids=["truncated", "garbage", "no-size", "too-large"],
)
def test_a_bad_frame_is_a_decode_error(bad: bytes) -> None:
    with pytest.raises(msgspec.DecodeError):
        decode_report_head(bad)


def test_a_host_with_a_bad_frame_is_left_out_of_snapshots(
    client: fakeredis.FakeRedis, caplog: pytest.LogCaptureFixture
) -> None:
    publish_report(client, KEYS, report("a", ("v1",)))
    publish_report(client, KEYS, report("b", ("v2",)))
    client.set(KEYS.report("b"), encode_report(report("b", ("v2",)))[:30])
    with caplog.at_level(logging.WARNING):
        snap = snapshot_from_redis(client, keys=KEYS)
    assert [h.name for h in snap.hosts] == ["a"]
    assert "host b: undecodable report" in caplog.text


def test_an_uncompressed_report_over_the_cap_is_a_decode_error() -> None:
    """The cap holds for a report stored without zstd too (a valid one, 68 MiB)."""
    host = msgspec.structs.replace(FORTY.host, labels={"padding": "x" * (68 * 2**20)})
    big = report_msgpack(msgspec.structs.replace(FORTY, host=host))
    assert len(big) > MAX_REPORT_BYTES
    with pytest.raises(msgspec.DecodeError, match="uncompressed report of"):
        decode_report_head(big)
    small = report_msgpack(FORTY)
    assert decode_report_head(small).host == FORTY.host
