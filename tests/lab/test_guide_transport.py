"""The guide's tuning on real hosts: a migration over the destination's dedicated address
with TLS and its definition rewritten for another path to the shared pool (12.6's
``--xml``), and the per-pair bandwidth measured from completed migrations and used by
the next estimate."""

from __future__ import annotations

import socket
import statistics
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import libvirt
import pytest
import redis
from click.testing import CliRunner

from balancer.cli.main import main
from balancer.cli.single_move import plan_single_move
from balancer.core.migration_model import estimate, link_table
from balancer.core.models import XmlRewrite
from balancer.lab.lab import Lab
from balancer.lab.pytest_plugin import GuestFactory
from balancer.state.keys import DEFAULT_KEYS
from balancer.state.snapshot_read import snapshot_from_redis
from tests.lab.test_executor import executor, where
from workers.executor.libvirt_hv import LibvirtHypervisor
from workers.executor.order import MigrationOrder

pytestmark = pytest.mark.lab
CAP_MIB_S = 24
MIB = 1 << 20


def _hex_address(address: str) -> str:
    """``address`` as /proc/net/tcp writes it (little-endian hex)."""
    return socket.inet_aton(address)[::-1].hex().upper()


@contextmanager
def watching(sample: Callable[[], None], every_s: float = 0.05) -> Iterator[None]:
    """Call ``sample`` every ``every_s`` in a thread while the block runs."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            sample()
            stop.wait(every_s)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def disk_paths(dom: libvirt.virDomain, flags: int = 0) -> list[str]:
    root = ET.fromstring(dom.XMLDesc(flags))
    return [s.get("file", "") for s in root.findall("devices/disk/source")]


def test_the_shared_pool_under_another_path_on_the_destination(
    lab: Lab, lab_guests: GuestFactory, hv: LibvirtHypervisor, redis_client: redis.Redis
) -> None:
    """lab-b sees the shared directory only as pools/shared-b: the definition it gets is
    rewritten (the policy's destination_xml) and the guest boots there on its disk."""
    guest = lab_guests.add("lab-a", memory_mib=128, working_set_mib=16, disk_pool="shared",
                           disk_file=True, disk_check=True, start=False)  # fmt: skip
    shared_a, shared_b = str(lab.root / "pools" / "shared"), str(lab.root / "pools" / "shared-b")
    order = MigrationOrder(vm=guest.name, source="lab-a", dest="lab-b", mode="offline",
                           expected_state="shutoff", memory_mib=128, shared_pools=("shared",),
                           rewrite=XmlRewrite(paths={shared_a: shared_b}))  # fmt: skip
    out = executor(hv, redis_client).run(order, token="t-dest-xml")

    assert out.result == "completed", out
    assert where(lab, guest.name) == {"lab-b": (libvirt.VIR_DOMAIN_SHUTOFF, True)}
    dom = lab.conn("lab-b").lookupByName(guest.name)
    assert disk_paths(dom, libvirt.VIR_DOMAIN_XML_INACTIVE) == [f"{shared_b}/{guest.name}.img"]
    dom.create()  # the old path does not exist on lab-b: it boots only with the new one
    assert guest.wait_for_disk_pass(above=0, timeout=90).ok
    assert [d.kind for d in guest.disk_lines()][:1] == ["new"]


def test_tls_over_the_dedicated_address_and_the_measured_bandwidth(
    lab: Lab,
    lab_guests: GuestFactory,
    hv: LibvirtHypervisor,
    redis_client: redis.Redis,
    redis_url: str,
) -> None:
    """Three live migrations, TLS-encrypted, over each destination's second address
    (its "dedicated migration network"), capped at 24 MiB/s: the store's per-pair figure
    is within 30 % of what the test itself sees the transfers reach (bytes over time from
    the job statistics), and the next plan's estimate uses it."""
    guest = lab_guests.add("lab-a", memory_mib=160, dirty_rate_mib_s=2, working_set_mib=64)
    guest.wait_for_counter(above=2, timeout=60)
    reached: list[float] = []
    peers: set[str] = set()

    def connections() -> None:  # addresses with an established TCP connection
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                remote, state = line.split()[2:4]
                if state == "01":
                    peers.add(remote.split(":")[0])

    route = [("lab-a", "lab-b"), ("lab-b", "lab-a"), ("lab-a", "lab-b")]
    for i, (source, dest) in enumerate(route):
        dom = lab.conn(source).lookupByName(guest.name)
        samples: list[tuple[float, int]] = []

        def job(dom: libvirt.virDomain = dom, samples: list[tuple[float, int]] = samples) -> None:
            try:
                s = dom.jobStats()
            except libvirt.libvirtError:
                return
            if s.get("memory_processed"):
                samples.append((time.monotonic(), int(s["memory_processed"])))

        dedicated = lab.host(dest).dedicated_address
        peers.clear()
        order = MigrationOrder(vm=guest.name, source=source, dest=dest, mode="live",
                               memory_mib=160, bandwidth_mib_s=CAP_MIB_S, tls=True,
                               migration_uri=f"tcp://{dedicated}")  # fmt: skip
        with watching(job), watching(connections):
            out = executor(hv, redis_client).run(order, token=f"t-bw-{i}")
        assert out.result == "completed", out
        assert _hex_address(dedicated) in peers, f"no connection to {dedicated} seen"
        (t0, b0), (t1, b1) = samples[0], samples[-1]
        assert t1 - t0 > 0.5, samples  # long enough to measure
        if (source, dest) == ("lab-a", "lab-b"):
            reached.append((b1 - b0) / MIB / (t1 - t0))

    runner = CliRunner()
    for host in ("lab-a", "lab-b"):
        agent = runner.invoke(main, ["agent", "--libvirt-uri", lab.host(host).uri,
                                     "--host-name", host, "--redis", redis_url,
                                     "--usage-from-vms", "--once"])  # fmt: skip
        assert agent.exit_code == 0, agent.output
    snapshot = snapshot_from_redis(redis_client, keys=DEFAULT_KEYS)
    links = link_table(snapshot.links)
    link = links[("lab-a", "lab-b")]
    seen = statistics.mean(reached)
    assert abs(link - seen) <= 0.3 * seen, (link, reached)
    assert [x.samples for x in snapshot.links if (x.source, x.dest) == ("lab-a", "lab-b")] == [2]

    # The next plan prices lab-b → lab-a with that pair's figure, not the hosts' constant.
    move = plan_single_move(snapshot, guest.name, "lab-a")
    vm = next(v for v in snapshot.vms if v.name == guest.name)
    hosts = {h.name: h for h in snapshot.hosts}
    back = links[("lab-b", "lab-a")]
    assert back != hosts["lab-b"].migration_bandwidth_mib_s
    priced = estimate(vm, hosts["lab-b"], hosts["lab-a"], snapshot.policy,
                      resident_mib=vm.resident_mib, link_mib_s=back)  # fmt: skip
    assert move.estimate.duration_s == pytest.approx(priced.duration_s, abs=0.01)  # rounded
    assert move.estimate.downtime_ms == pytest.approx(priced.downtime_ms, abs=1)
    unmeasured = estimate(vm, hosts["lab-b"], hosts["lab-a"], snapshot.policy,
                          resident_mib=vm.resident_mib)  # fmt: skip
    assert abs(unmeasured.duration_s - priced.duration_s) > 0.01
