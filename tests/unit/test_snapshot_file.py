"""Bad snapshot documents give one clear message naming the field path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from balancer.errors import SnapshotError
from balancer.snapshot_file import decode_snapshot, encode_snapshot, load_snapshot

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "cluster-small.json"


def _doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return doc


def _error(doc: dict[str, Any] | bytes) -> SnapshotError:
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    with pytest.raises(SnapshotError) as info:
        decode_snapshot(data)
    return info.value


def test_example_round_trips() -> None:
    snap = load_snapshot(EXAMPLE)
    assert decode_snapshot(encode_snapshot(snap)) == snap


def test_malformed_json_names_line_and_column() -> None:
    err = _error(b'{"version": 1,\n  "taken_at": 12,,\n}')
    assert "not valid JSON" in str(err)
    assert "line 2" in str(err)


def test_wrong_type_names_the_path() -> None:
    doc = _doc()
    doc["hosts"][2]["memory_mib"] = "lots"
    err = _error(doc)
    assert err.path == "hosts[2].memory_mib"
    assert "int" in err.message


def test_missing_field_names_the_path() -> None:
    doc = _doc()
    del doc["vms"][1]["cpu"]["vendor"]
    assert _error(doc).path == "vms[1].cpu.vendor"


def test_unknown_field_is_rejected() -> None:
    doc = _doc()
    doc["hosts"][0]["memroy_mib"] = 1
    err = _error(doc)
    assert err.path == "hosts[0].memroy_mib"
    assert "unknown field" in err.message


def test_bad_enum_value() -> None:
    doc = _doc()
    doc["hosts"][0]["state"] = "sleeping"
    assert _error(doc).path == "hosts[0].state"


def test_vm_on_unknown_host() -> None:
    doc = _doc()
    doc["vms"][3]["host"] = "nowhere"
    err = _error(doc)
    assert (err.path, err.message) == ("vms[3].host", "unknown host 'nowhere'")


def test_duplicate_names() -> None:
    doc = _doc()
    doc["hosts"][1]["name"] = doc["hosts"][0]["name"]
    assert _error(doc).path == "hosts[1].name"
    doc = _doc()
    doc["vms"][4]["name"] = doc["vms"][0]["name"]
    assert _error(doc).path == "vms[4].name"


def test_rule_naming_a_missing_vm() -> None:
    doc = _doc()
    doc["rules"][1]["vms"][1] = "ghost"
    err = _error(doc)
    assert err.path == "rules[1].vms[1]"
    assert "ghost" in err.message


def test_pin_to_unknown_host_and_evacuate_unknown_host() -> None:
    doc = _doc()
    doc["rules"][2]["hosts"] = ["kvm-06", "kvm-99"]
    assert _error(doc).path == "rules[2].hosts[1]"
    doc = _doc()
    doc["policy"]["evacuate_hosts"] = ["kvm-77"]
    assert _error(doc).path == "policy.evacuate_hosts[0]"


def test_power_table_needs_eleven_points() -> None:
    doc = _doc()
    doc["hosts"][0]["power"] = {"table_w": [1, 2, 3]}
    assert _error(doc).path == "hosts[0].power.table_w"


def test_running_vm_on_an_off_host_is_inconsistent() -> None:
    doc = _doc()
    doc["vms"][0]["host"] = "kvm-04"
    assert _error(doc).path == "vms[0]"


def test_negative_and_out_of_range_numbers() -> None:
    doc = _doc()
    doc["vms"][0]["cpu_used"] = -1
    assert _error(doc).path == "vms[0].cpu_used"
    doc = _doc()
    doc["policy"]["headroom"] = 1.5
    assert _error(doc).path == "policy.headroom"


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="cannot read"):
        load_snapshot(tmp_path / "missing.json")
