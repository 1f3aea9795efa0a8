"""Realistic host reports for benchmarks: what an agent on a big KVM host publishes
(about 90 CPU features, 40 usable CPU models, a dozen machine types, VMs with disks,
networks and labels), with load figures that change from one report to the next."""

from __future__ import annotations

import random

import msgspec

from balancer import __version__
from balancer.core.models import Disk, GuestCpu, Host, HostCpu, Versions, Vm
from balancer.state.report import HostReport, PoolFact

_FEATURE_TEXT = (
    "3dnowprefetch abm adx aes apic arat avx avx2 avx512bw avx512cd avx512dq avx512f "
    "avx512vl bmi1 bmi2 clflush clflushopt clwb cmov cx16 cx8 de erms f16c fma fpu fsgsbase "
    "fxsr hle hypervisor ibpb ibrs invpcid invtsc lahf_lm lm mca mce md-clear mmx movbe "
    "msr mtrr nx pae pat pcid pclmuldq pdpe1gb pge pku pni popcnt pse pse36 rdrand rdseed "
    "rdtscp rtm sep smap smep spec-ctrl ssbd sse sse2 sse4.1 sse4.2 ssse3 stibp syscall "
    "tsc tsc-deadline tsc_adjust umip vme vmx x2apic xgetbv1 xsave xsavec xsaveopt xsaves "
    "arch-capabilities skip-l1dfl-vmentry pschange-mc-no mds-no rdctl-no ibrs-all "
    "tsx-ctrl taa-no"
)
FEATURES = tuple(sorted(_FEATURE_TEXT.split(" ")))
MODELS = tuple(
    f"{m}{v}"
    for m in (
        "Skylake-Server", "Skylake-Client", "Cascadelake-Server", "Broadwell", "Haswell",
        "IvyBridge", "SandyBridge", "Westmere", "Nehalem", "Penryn",
    )
    for v in ("", "-IBRS", "-noTSX", "-v1")
)  # fmt: skip
MACHINES = tuple(f"pc-q35-{v}" for v in ("7.2", "8.0", "8.1", "8.2", "9.0", "9.1", "9.2", "10.0"))
MACHINES = (*MACHINES, "q35", "pc", "pc-i440fx-10.0")


def host_name(i: int) -> str:
    return f"kvm-{i:05d}"


def simulated_vms(host: str, count: int, rng: random.Random) -> tuple[Vm, ...]:
    return tuple(
        Vm(
            name=f"{host}-vm-{j:03d}",
            host=host,
            state="running",
            vcpus=rng.choice((1, 2, 4, 8)),
            cpu_used=round(rng.uniform(0, 2), 4),
            memory_mib=rng.choice((1024, 2048, 4096, 8192)),
            dirty_rate_mib_s=float(rng.randrange(0, 64)),
            cpu=GuestCpu(vendor="Intel", model="Skylake-Server-IBRS"),
            machine_type="pc-q35-10.0",
            disks=(Disk(pool="ceph-rbd", shared=True, bytes=40 * 2**30),),
            networks=("prod",),
            labels={"tier": rng.choice(("web", "db", "cache")), "team": f"t{j % 7}"},
        )
        for j in range(count)
    )


def simulated_report(i: int, vms_per_host: int, now: float, rng: random.Random) -> HostReport:
    name = host_name(i)
    return HostReport(
        host=Host(
            name=name,
            state="active",
            uri=f"qemu+tls://{name}/system",
            cpu=HostCpu(
                vendor="Intel",
                model="Skylake-Server-IBRS",
                features=FEATURES,
                cores=64,
                models=MODELS,
            ),
            memory_mib=512 * 1024,
            cpu_used=round(rng.uniform(4, 40), 4),
            memory_used_mib=rng.randrange(64 * 1024, 400 * 1024),
            numa_nodes=2,
            storage_pools=("ceph-rbd", "local"),
            networks=("mgmt", "prod", "storage"),
            versions=Versions(
                qemu="10.0.2", libvirt="11.3.0", kernel="6.1.0-28-amd64", os="Debian GNU/Linux 12"
            ),
            machine_types=MACHINES,
        ),
        vms=simulated_vms(name, vms_per_host, rng),
        collected_at=now,
        interval_s=10.0,
        ttl_s=30.0,
        seq=1,
        agent_version=__version__,
        load_avg=(1.0, 1.0, 1.0),
        pools=(
            PoolFact(name="ceph-rbd", type="rbd", shared=True),
            PoolFact(name="local", type="dir", shared=False),
        ),
        vm_rss_mib={f"{name}-vm-{j:03d}": 900 for j in range(vms_per_host)},
    )


def refreshed(report: HostReport, now: float, rng: random.Random, seq: int) -> HostReport:
    """The next report of the same host: new load figures, same facts."""
    host = msgspec.structs.replace(report.host, cpu_used=round(rng.uniform(4, 40), 4))
    return msgspec.structs.replace(report, host=host, collected_at=now, seq=seq)
