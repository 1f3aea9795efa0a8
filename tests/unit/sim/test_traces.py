"""Trace loaders (PlanetLab folder, GCD archive read in place, Bitbrains file) and the
reference set-up that sizes their VMs."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

from balancer.errors import TraceError
from balancer.sim.replay import SimConfig, replay
from balancer.sim.workload import reference_workload, snapshot_workload
from balancer.traces.load import load_trace, trace_kind
from balancer.traces.paths import shared_data_dir
from balancer.traces.trace import make_trace
from tests.unit.sim.factories import snapshot


def _planetlab(tmp_path: Path) -> Path:
    day = tmp_path / "day"
    day.mkdir()
    (day / "b-vm").write_text("10\n20\n30\n")
    (day / "a-vm").write_text("100\n50\n0\n")
    return day


def _gcd(tmp_path: Path) -> Path:
    archive = tmp_path / "GCD_VMs.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, text in (("vm_2_1", "10 20\n30 40\n"), ("vm_1_1", "150 5\n0 250\n")):
            data = text.encode()
            info = tarfile.TarInfo(f"GCD_VMs/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return tmp_path


def _bitbrains(tmp_path: Path) -> Path:
    path = tmp_path / "cpu_mem_pct_288x500.txt"
    path.write_text("7 1.5,12.5 0.5,256000\n10 3,4 5,6\n")
    return path


def test_planetlab_folder(tmp_path: Path) -> None:
    t = load_trace(_planetlab(tmp_path))
    assert (t.kind, t.names) == ("planetlab", ("a-vm", "b-vm"))
    assert t.cpu_pct.tolist() == [[100, 50, 0], [10, 20, 30]]
    assert t.mem_pct is None
    assert not t.cpu_pct.flags.writeable


def test_gcd_archive_is_read_in_place_and_clipped(tmp_path: Path) -> None:
    folder = _gcd(tmp_path)
    t = load_trace(folder)
    assert (t.kind, t.names) == ("gcd", ("vm_1_1", "vm_2_1"))
    assert t.cpu_pct.tolist() == [[100, 0], [10, 30]]
    assert t.mem_pct is not None
    assert t.mem_pct.tolist() == [[5, 100], [20, 40]]
    assert sorted(p.name for p in folder.iterdir()) == ["GCD_VMs.tar.gz"]


def test_bitbrains_file(tmp_path: Path) -> None:
    t = load_trace(_bitbrains(tmp_path))
    assert (t.kind, t.names) == ("bitbrains", ("10", "7"))
    assert t.cpu_pct.tolist() == [[3, 5], [1.5, 0.5]]
    assert t.mem_pct is not None
    assert t.mem_pct.tolist() == [[4, 6], [12.5, 100]]


def test_the_kind_follows_what_the_path_holds(tmp_path: Path) -> None:
    assert trace_kind(_planetlab(tmp_path)) == "planetlab"
    assert trace_kind(_gcd(tmp_path)) == "gcd"
    assert trace_kind(_bitbrains(tmp_path)) == "bitbrains"
    assert trace_kind(tmp_path) == "gcd"  # the folder holding the archive


@pytest.mark.parametrize(
    ("files", "message"),
    [({"vm": "12\nabc\n"}, "not a column of numbers"), ({}, "no VM"), ({"vm": "5\n"}, "2 samples")],
)
def test_unusable_planetlab_folders(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(TraceError, match=message):
        load_trace(tmp_path)


def test_missing_traces(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="no trace"):
        load_trace(tmp_path / "nowhere")
    with pytest.raises(TraceError, match="GCD archive"):
        load_trace(tmp_path / "broken.tar.gz")


def test_rows_are_cut_to_the_shortest() -> None:
    rows = {"a": (np.arange(5.0), None), "b": (np.arange(3.0), None)}
    assert make_trace("x", "here", rows).cpu_pct.shape == (2, 3)


def test_reference_setup_sizes_vms_by_block_of_names(tmp_path: Path) -> None:
    files = tmp_path / "day"
    files.mkdir()
    for k in range(4):  # one VM per type: 2500, 2000, 1000, 500 MIPS
        (files / f"vm{k}").write_text("50\n100\n")
    w = reference_workload(load_trace(files))
    assert len(w.hosts) == 800
    assert [h.name for h in w.hosts[:2]] == ["host-0", "host-1"]
    assert w.cpu[:, 0].tolist() == [1.25, 1.0, 0.5, 0.25]  # cores of 1000 MIPS
    assert [v.memory_mib for v in w.vms] == [870, 1740, 1740, 613]
    assert w.memory_used is None


def test_reference_setup_turns_memory_percent_into_mib(tmp_path: Path) -> None:
    w = reference_workload(load_trace(_bitbrains(tmp_path)))
    assert w.memory_used is not None
    assert w.memory_used[:, 0].tolist() == [0.04 * 870, 0.125 * 1740]


@pytest.mark.parametrize(
    ("path", "kind", "vms"),
    [
        ("planetlab/20110306", "planetlab", 898),
        ("gcd", "gcd", 1600),
        ("bitbrains-rnd", "bitbrains", 496),
    ],
)
def test_the_shipped_traces(path: str, kind: str, vms: int) -> None:
    where = shared_data_dir() / path
    if not where.exists():
        pytest.fail(f"the shared traces are missing: {where}")
    t = load_trace(where)
    assert (t.kind, t.cpu_pct.shape) == (kind, (vms, 288))
    assert (t.mem_pct is None) == (kind == "planetlab")


def test_a_trace_replays_on_a_snapshot_of_ones_own(tmp_path: Path) -> None:
    snap = snapshot({1: [0.5, 0.5], 3: [0.5]})
    by_order = snapshot_workload(load_trace(_planetlab(tmp_path)), snap)
    assert by_order.placement is not None
    assert by_order.placement.tolist() == [1, 1, 3]  # VMs start where they are
    assert by_order.hosts == snap.hosts
    assert by_order.cpu[:, 0].tolist() == [1.0, 0.1, 1.0]  # rows a-vm, b-vm, a-vm; 1 vCPU
    names = {"vm-1-0": "20\n40\n", "vm-1-1": "60\n80\n", "vm-3-0": "100\n0\n"}
    day = tmp_path / "named"
    day.mkdir()
    for name, text in names.items():
        (day / name).write_text(text)
    by_name = snapshot_workload(load_trace(day), snap)
    assert by_name.cpu[:, 1].tolist() == [0.4, 0.8, 0.0]
    result = replay(by_name, SimConfig())
    assert result.metrics.intervals == 1
    assert result.actions["consolidation"] == 1  # host-3's VM joins host-1's: 1 host on
    assert result.metrics.migrations == 1
    assert result.series.active_hosts.tolist() == [1.0]
