"""Domain XML of a lab guest: TCG, a named CPU model, Debian's kernel and our initramfs.

No disk unless the spec asks for one (a volume in a named pool, so the destination must
have that pool; or, ``disk_file``, that volume's file by path); one NIC per network the
spec names. A guest with ``disk_check`` boots ``rdinit=/disk-init`` from the disk
initramfs: it keeps a pattern on its disk and checks it (``deploy/lab/guest-disk.c``).
The serial console goes to a file in the lab dir, opened in append mode so the source
and the destination QEMU of a migration write to the same log. A guest with ``commands``
has a second serial port, a pty, that the host writes commands to (``guest_load.py``).
``on_reboot``/``on_crash`` destroy: a guest that panics disappears, which a test sees.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from balancer.lab.artifacts import GuestArtifacts
from balancer.lab.specs import GuestSpec

EMULATOR = "/usr/bin/qemu-system-x86_64"


def kernel_cmdline(spec: GuestSpec) -> str:
    disk = " rdinit=/disk-init" if spec.disk_check else ""
    return (
        "console=ttyS0 quiet panic=-1 mitigations=off "
        f"dirty_mib_s={spec.dirty_rate_mib_s} wss_mib={spec.working_set_mib} "
        f"tick_ms={spec.tick_ms}{disk}"
    )


def cpu_element(model: str, features: tuple[str, ...] = ()) -> ET.Element:
    """A named model (never host-model: /dev/kvm cannot run these guests, TCG does).

    ``check="partial"`` makes libvirt refuse to start (or accept by migration) a guest
    whose CPU the hypervisor cannot provide; for TCG guests the default is "none".
    """
    cpu = ET.Element("cpu", mode="custom", match="exact", check="partial")
    ET.SubElement(cpu, "model", fallback="forbid").text = model
    for name in features:
        ET.SubElement(cpu, "feature", policy="require", name=name)
    return cpu


def cpu_xml(model: str, features: tuple[str, ...] = ()) -> str:
    return ET.tostring(cpu_element(model, features), encoding="unicode")


def volume_name(spec: GuestSpec) -> str:
    return f"{spec.name}.img"


def domain_xml(
    spec: GuestSpec, artifacts: GuestArtifacts, console: Path, disk_path: str | None = None
) -> str:
    """``disk_path``: the volume's path on the host (for a ``disk_file`` guest)."""
    dom = ET.Element("domain", type="qemu")
    ET.SubElement(dom, "name").text = spec.name
    ET.SubElement(dom, "memory", unit="MiB").text = str(spec.memory_mib)
    ET.SubElement(dom, "vcpu").text = str(spec.vcpus)
    os_ = ET.SubElement(dom, "os")
    ET.SubElement(os_, "type", arch="x86_64", machine="q35").text = "hvm"
    ET.SubElement(os_, "kernel").text = str(artifacts.kernel)
    initrd = artifacts.disk_initrd if spec.disk_check else artifacts.initrd
    ET.SubElement(os_, "initrd").text = str(initrd)
    ET.SubElement(os_, "cmdline").text = kernel_cmdline(spec)
    dom.append(cpu_element(spec.cpu_model, spec.cpu_features))
    ET.SubElement(dom, "clock", offset="utc")
    for event in ("on_poweroff", "on_reboot", "on_crash"):
        ET.SubElement(dom, event).text = "destroy"
    devices = ET.SubElement(dom, "devices")
    ET.SubElement(devices, "emulator").text = EMULATOR
    ET.SubElement(devices, "controller", type="usb", model="none")
    if spec.disk_pool is not None:
        kind = "file" if spec.disk_file else "volume"
        disk = ET.SubElement(devices, "disk", type=kind, device="disk")
        ET.SubElement(disk, "driver", name="qemu", type="raw", cache="none")
        if spec.disk_file:
            ET.SubElement(disk, "source", file=disk_path or "")
        else:
            ET.SubElement(disk, "source", pool=spec.disk_pool, volume=volume_name(spec))
        ET.SubElement(disk, "target", dev="vda", bus="virtio")
    for net in spec.networks:
        nic = ET.SubElement(devices, "interface", type="network")
        ET.SubElement(nic, "source", network=net)
        ET.SubElement(nic, "model", type="virtio")
    serial = ET.SubElement(devices, "serial", type="file")
    ET.SubElement(serial, "source", path=str(console), append="on")
    ET.SubElement(serial, "target", port="0")
    if spec.commands:  # ttyS1: the guest reads commands from it (guest_load.py)
        ET.SubElement(ET.SubElement(devices, "serial", type="pty"), "target", port="1")
    return ET.tostring(dom, encoding="unicode")
