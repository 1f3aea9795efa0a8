"""The lab's pure parts, without root or libvirtd: specs, XML, config, state, slots."""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from balancer.errors import InputError, PermanentError
from balancer.lab import bridges, pytest_plugin, slots
from balancer.lab.artifacts import GuestArtifacts
from balancer.lab.background import Background
from balancer.lab.config_files import libvirtd_conf, qemu_conf
from balancer.lab.console import last_tick, ticks, wait_for_counter
from balancer.lab.domain_xml import domain_xml
from balancer.lab.errors import LabError, LabTimeoutError, LabUnavailableError
from balancer.lab.procs import ProcessId
from balancer.lab.specs import GuestSpec, PoolSpec, default_host_specs
from balancer.lab.stale import is_stale
from balancer.lab.state import HostRecord, LabState, NetworkRecord, to_json

ARTIFACTS = GuestArtifacts(Path("/cache/vmlinux"), Path("/cache/initramfs.cpio"), "linux-x")


def test_lab_errors_belong_to_the_one_tree() -> None:
    assert issubclass(LabUnavailableError, LabError)
    assert issubclass(LabTimeoutError, LabError)
    assert issubclass(LabError, PermanentError)


def test_domain_xml_is_a_tcg_guest_with_a_named_cpu() -> None:
    spec = GuestSpec("g1", dirty_rate_mib_s=16, working_set_mib=112)
    dom = ET.fromstring(domain_xml(spec, ARTIFACTS, Path("/lab/consoles/g1.log")))
    assert dom.get("type") == "qemu"
    assert dom.findtext("os/kernel") == "/cache/vmlinux"
    assert "dirty_mib_s=16 wss_mib=112" in (dom.findtext("os/cmdline") or "")
    cpu = dom.find("cpu")
    assert cpu is not None
    assert (cpu.get("mode"), cpu.get("check"), cpu.findtext("model")) == (
        "custom",
        "partial",
        "Westmere",
    )
    assert dom.findtext("on_crash") == "destroy"
    serial = dom.find("devices/serial/source")
    assert serial is not None
    assert (serial.get("path"), serial.get("append")) == ("/lab/consoles/g1.log", "on")
    assert dom.find("devices/disk") is None
    assert dom.find("devices/interface") is None


def test_domain_xml_with_disk_network_and_features() -> None:
    spec = GuestSpec("g2", disk_pool="shared", networks=("lab-net",), cpu_features=("avx512f",))
    dom = ET.fromstring(domain_xml(spec, ARTIFACTS, Path("/c.log")))
    disk = dom.find("devices/disk/source")
    assert disk is not None
    assert (disk.get("pool"), disk.get("volume")) == ("shared", "g2.img")
    nic = dom.find("devices/interface/source")
    assert nic is not None
    assert nic.get("network") == "lab-net"
    feature = dom.find("cpu/feature")
    assert feature is not None
    assert (feature.get("name"), feature.get("policy")) == ("avx512f", "require")


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"name": "Bad_Name"}, "guest.name"),
        ({"working_set_mib": 160}, "guest.working_set_mib"),
        ({"dirty_rate_mib_s": -1}, "guest.dirty_rate_mib_s"),
        ({"memory_mib": 32}, "guest.memory_mib"),
    ],
)
def test_guest_spec_rejects_bad_input(fields: dict[str, object], path: str) -> None:
    with pytest.raises(InputError) as err:
        GuestSpec(**{"name": "g", **fields})  # type: ignore[arg-type]
    assert err.value.path == path


def test_standard_hosts_differ() -> None:
    a, b, c = default_host_specs(3)
    shared = PoolSpec("shared", shared=True)
    assert (a.name, b.name, c.name) == ("lab-a", "lab-b", "lab-c")
    assert shared in a.pools
    # lab-b sees the same shared directory under another path (pools/shared-b)
    assert PoolSpec("shared", shared=True, view="shared-b") in b.pools
    assert "shared" not in {p.name for p in c.pools}
    assert set(a.networks) - set(b.networks) == {"backup-net"}
    assert "lab-net" not in c.networks
    with pytest.raises(InputError):
        default_host_specs(0)


def test_config_files_make_a_separate_host() -> None:
    assert 'host_uuid = "1234"' in libvirtd_conf("1234")
    conf = qemu_conf(slots.Slot(2))
    for line in (
        "cgroup_controllers = [ ]",
        'security_driver = "none"',
        'migration_address = "127.0.0.12"',
        "migration_port_min = 61032",
        "migration_port_max = 61047",
    ):
        assert line in conf
    conf = qemu_conf(slots.Slot(2), ["/lab/pools/shared-b"], Path("/lab/hosts/lab-b/pki"))
    assert 'shared_filesystems = [ "/lab/pools/shared-b" ]' in conf
    assert 'migrate_tls_x509_cert_dir = "/lab/hosts/lab-b/pki"' in conf
    assert "migrate_tls_x509_verify = 1" in conf


def test_slots_never_overlap() -> None:
    all_slots = [slots.Slot(i) for i in range(slots.MAX_SLOTS)]
    ports = [p for s in all_slots for p in range(s.port_min, s.port_max + 1)]
    assert len(set(ports)) == len(ports)
    assert min(ports) > 60999  # above Linux's ephemeral range
    assert max(ports) < 65536
    assert len({s.migration_address for s in all_slots}) == len(all_slots)
    dedicated = {s.dedicated_address for s in all_slots}
    assert len(dedicated) == len(all_slots)
    assert not dedicated & {s.migration_address for s in all_slots}
    assert all(len(f"{s.bridge_prefix}9") <= 15 for s in all_slots)


def test_slot_claims_are_exclusive_until_released_or_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A private registry, and no bridge deletion: the real labs' bridges are not ours.
    monkeypatch.setattr(slots, "slots_dir", lambda: tmp_path)
    deleted: list[str] = []
    monkeypatch.setattr(bridges, "delete_with_prefix", deleted.append)
    first, second = slots.claim("a"), slots.claim("b")
    assert first != second
    me = ProcessId.of(os.getpid())
    assert me is not None
    slots.release(first, me)
    assert slots.claim("c") == first
    dead = subprocess.Popen(["true"])
    dead.wait()
    gone = ProcessId(dead.pid, 1)
    slots.hand_over(second, gone, "b")
    assert slots.claim("d") == second  # its owner is gone: the claim was stale
    # Taking or freeing a slot deletes its bridges (left by a killed daemon).
    assert deleted == ["kbl0n", "kbl1n", "kbl0n", "kbl0n", "kbl1n"]


def test_state_round_trips_through_json() -> None:
    host = HostRecord(
        name="lab-a",
        uuid="u",
        slot=3,
        daemon=ProcessId(10, 20),
        mount_ns="mnt:[1]",
        dir="/lab/hosts/lab-a",
        pools=(PoolSpec("default"), PoolSpec("shared", True)),
        networks=(NetworkRecord("lab-net", "kbl3n0"),),
    )
    state = LabState("/lab", ProcessId(1, 2), (host,))
    assert LabState.from_json(json.loads(to_json(state))) == state
    assert host.uri == "qemu+unix:///system?socket=/lab/hosts/lab-a/run/libvirt-sock"
    assert host.migration_address == "127.0.0.13"


def test_console_counts_complete_tick_lines_only(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    log.write_bytes(b"[ 1.0] kernel noise\nkbl-ready\nkbl-tick 1 pages=0\nkbl-tick 2 pages=40")
    assert [t.counter for t in ticks(log)] == [1]
    assert last_tick(tmp_path / "missing.log") is None
    with pytest.raises(LabTimeoutError, match="kbl-tick 2"):
        wait_for_counter(log, above=1, timeout=0.2)


def test_background_returns_or_reraises() -> None:
    assert Background(lambda: 42, "answer").result(timeout=5) == 42

    def fail() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        Background(fail, "fail").result(timeout=5)


def test_process_ids_survive_pid_reuse() -> None:
    me = ProcessId.of(os.getpid())
    assert me is not None
    assert me.is_running()
    assert not ProcessId(me.pid, me.start_ticks + 1).is_running()


def test_lab_tests_fail_not_skip_without_the_lab(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pytest_plugin, "lab_problems", lambda: ["not running as root"])
    for ci in (None, "true"):
        if ci is None:
            monkeypatch.delenv("CI", raising=False)
        else:
            monkeypatch.setenv("CI", ci)
        with pytest.raises(pytest.fail.Exception, match=r"sudo make lab-setup.*not lab"):
            pytest_plugin.require_lab()


def test_a_lab_is_stale_once_its_owner_is_gone() -> None:
    me = ProcessId.of(os.getpid())
    assert me is not None
    assert not is_stale(LabState("/labs/pytest-1-x", owner=me))
    assert is_stale(LabState("/labs/x", owner=ProcessId(me.pid, me.start_ticks + 1)))
    assert not is_stale(LabState("/labs/cli"))  # the CLI's lab lives until `lab down`
    assert not is_stale(LabState(f"/labs/pytest-{os.getpid()}-cli"))
    assert is_stale(LabState("/labs/pytest-999999999-cli"))  # no such process
