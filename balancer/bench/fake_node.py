"""Fake hosts for libvirt's ``test:///`` driver (benchmarks and tests).

``node_xml(...)`` writes a host document the test driver loads (``test:///path.xml``):
domains with a q35 machine, a named CPU model, disks on pools, networks and our metadata.
The test driver answers ``getAllDomainStats`` with the state group only, so
``StatsFaker`` wraps a connection and adds what a QEMU host would report (cpu.time growing
at a set rate, balloon, vcpu, block, dirtyrate), to run the collector's whole path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

import libvirt


def domain_xml(
    name: str,
    *,
    memory_mib: int = 1024,
    vcpus: int = 2,
    cpu_model: str = "Skylake-Client",
    pool: str = "shared-pool",
    network: str = "default",
    critical: bool = False,
    labels: dict[str, str] | None = None,
    extra_devices: str = "",
) -> str:
    label_xml = "".join(
        f'<kvmb:label name="{escape(k)}">{escape(v)}</kvmb:label>'
        for k, v in (labels or {}).items()
    )
    crit = "<kvmb:critical>true</kvmb:critical>" if critical else ""
    return f"""
  <domain type='test'>
    <name>{escape(name)}</name>
    <memory unit='MiB'>{memory_mib}</memory>
    <currentMemory unit='MiB'>{memory_mib}</currentMemory>
    <vcpu>{vcpus}</vcpu>
    <metadata><kvmb:vm xmlns:kvmb="urn:kvm-balancer:vm:1">{crit}{label_xml}</kvmb:vm></metadata>
    <os><type arch='x86_64' machine='pc-q35-10.0'>hvm</type></os>
    <cpu mode='custom' match='exact'><model fallback='forbid'>{cpu_model}</model></cpu>
    <devices>
      <disk type='volume' device='disk'>
        <source pool='{pool}' volume='{escape(name)}.qcow2'/><target dev='vda'/>
      </disk>
      <disk type='file' device='cdrom'><target dev='sda'/></disk>
      <interface type='network'><source network='{network}'/></interface>
      {extra_devices}
    </devices>
  </domain>"""


def node_xml(
    domains: list[str],
    *,
    cpu_model: str = "Skylake-Client",
    cores: int = 8,
    memory_mib: int = 32768,
    pools: tuple[tuple[str, str], ...] = (("shared-pool", "netfs"), ("local-pool", "dir")),
    networks: tuple[str, ...] = ("default",),
) -> str:
    """A host document: ``domains`` are ``domain_xml`` strings; pools are (name, type).

    The test driver starts every domain of the file running: ``apply_states`` changes
    that after connecting."""
    pool_xml = "".join(
        f"""
  <pool type='{kind}'>
    <name>{name}</name>
    {"<source><host name='nfs.example'/><dir path='/export'/></source>" if kind == "netfs" else ""}
    <target><path>/srv/{name}</path></target>
  </pool>"""
        for name, kind in pools
    )
    net_xml = "".join(
        f"<network><name>{n}</name><bridge name='br-{n}'/></network>" for n in networks
    )
    return f"""<node>
  <cpu>
    <mhz>2600</mhz><model>{cpu_model}</model>
    <nodes>1</nodes><sockets>1</sockets><cores>{cores}</cores><threads>1</threads>
    <active>{cores}</active>
  </cpu>
  <memory>{memory_mib * 1024}</memory>
  {"".join(domains)}
  {pool_xml}
  {net_xml}
</node>
"""


def apply_states(conn: libvirt.virConnect, states: dict[str, str]) -> None:
    """Put the named domains in ``paused`` or ``shutoff`` (the driver starts all running)."""
    for name, state in states.items():
        dom = conn.lookupByName(name)
        if state == "paused":
            dom.suspend()
        elif state == "shutoff":
            dom.destroy()


class StatsFaker:
    """A connection whose ``getAllDomainStats`` adds QEMU-like groups to the test driver's.

    Each running domain burns ``cores_used(name)`` cores (cpu.time grows accordingly on
    the given clock) and reports balloon, vcpu, block and dirtyrate values; everything
    else is the wrapped connection's.
    """

    def __init__(
        self,
        conn: libvirt.virConnect,
        *,
        cores_used: Callable[[str], float] = lambda _name: 0.5,
        dirty_mib_s: Callable[[str], int] = lambda _name: 8,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._conn = conn
        self._cores_used = cores_used
        self._dirty = dirty_mib_s
        self._clock = clock
        self._start = clock()
        self.stats_calls = 0
        self.xml_calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def getAllDomainStats(self, stats: int = 0, flags: int = 0) -> list[tuple[Any, dict[str, Any]]]:  # noqa: N802
        self.stats_calls += 1
        out = []
        elapsed = self._clock() - self._start
        for dom, given in self._conn.getAllDomainStats(stats, flags):
            record = dict(given)
            name = dom.name()
            if record.get("state.state") == libvirt.VIR_DOMAIN_RUNNING:
                record.update(
                    {
                        "cpu.time": int(self._cores_used(name) * elapsed * 1e9),
                        "balloon.current": 1024 * 1024,
                        "balloon.maximum": 1024 * 1024,
                        "balloon.rss": 300 * 1024,
                        "vcpu.current": 2,
                        "vcpu.maximum": 2,
                        "block.count": 1,
                        "block.0.name": "vda",
                        "block.0.path": f"/srv/shared-pool/{name}.qcow2",
                        "block.0.capacity": 10 * 2**30,
                        "dirtyrate.calc_status": 2,
                        "dirtyrate.megabytes_per_second": self._dirty(name),
                        "dirtyrate.calc_start_time": int(self._start),
                        "dirtyrate.calc_period": 1,
                    }
                )
            out.append((_CountingDomain(dom, self), record))
        return out


class _CountingDomain:
    """A domain that counts ``XMLDesc`` calls on its connection's ``StatsFaker``."""

    def __init__(self, dom: libvirt.virDomain, faker: StatsFaker) -> None:
        self._dom = dom
        self._faker = faker

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dom, name)

    def XMLDesc(self, flags: int = 0) -> str:  # noqa: N802
        self._faker.xml_calls += 1
        return str(self._dom.XMLDesc(flags))

    def startDirtyRateCalc(self, seconds: int, flags: int = 0) -> int:  # noqa: N802
        """The test driver cannot measure; pretend it started."""
        return 0
