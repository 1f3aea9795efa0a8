"""The CPU a guest needs from its destination, by ``<cpu mode>`` (pure).

- ``custom`` (a named model): that model and its required features. A running guest's
  live XML shows the CPU libvirt gave it (``check='full'``: every feature it was found to
  need), which is what the destination must provide.
- ``host-model``: running, the CPU it was given (libvirt expands it in the live XML; its
  mode stays ``host-model``); shut off (no model yet), it takes the destination's own
  host-model CPU when it starts, so any host running its domain type will do.
- ``host-passthrough`` / ``maximum``: the host's own CPU (host capabilities: model,
  vendor, features); only a host with the same CPU takes it.
- no ``<cpu>``: QEMU's default model (``qemu64``), which every x86 host provides.

The domain type (``<domain type>``: kvm, or qemu for TCG) goes with it: each type has its
own usable models and host-model CPU. The vendor is the host's for that type: what
cannot be done is moving a running guest between Intel and AMD hardware, whatever model
name the guest is shown (TCG even shows Intel models on AMD hosts). Only when the host's
vendor is unknown does the model's vendor stand in.
"""

from __future__ import annotations

from balancer.core.models import GuestCpu, GuestCpuMode
from workers.agent.domain_xml import DomainFacts
from workers.agent.host_caps import vendor_of_model
from workers.agent.host_facts import UNKNOWN, HostFacts

DEFAULT_MODEL = "qemu64"


def guest_cpu(domain: DomainFacts, host: HostFacts) -> GuestCpu:
    virt = domain.virt_type
    offer = host.hypervisors.get(virt)
    vendor = offer.vendor if offer is not None else host.cpu_vendor
    if vendor == UNKNOWN:
        vendor = domain.cpu_vendor or vendor_of_model(domain.cpu_model) or UNKNOWN
    if domain.cpu_mode in ("host-passthrough", "maximum"):
        own = host.physical
        model = own.model if own else host.cpu_model
        features = own.features if own else host.cpu_features
        return GuestCpu(vendor=own.vendor if own else vendor, model=model, features=features,
                        mode="host-passthrough", virt_type=virt)  # fmt: skip
    mode: GuestCpuMode = "host-model" if domain.cpu_mode == "host-model" else "custom"
    if domain.cpu_model:
        return GuestCpu(vendor=vendor, model=domain.cpu_model, features=domain.cpu_features,
                        mode=mode, virt_type=virt)  # fmt: skip
    if mode == "host-model":
        model = offer.model if offer is not None else host.cpu_model
        return GuestCpu(vendor=vendor, model=model, mode=mode, virt_type=virt)
    return GuestCpu(vendor=vendor, model=DEFAULT_MODEL, features=domain.cpu_features,
                    virt_type=virt)  # fmt: skip
