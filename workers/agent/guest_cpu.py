"""The CPU a guest needs from its destination, by ``<cpu mode>`` (pure).

- ``custom`` (a named model): that model and its required features. A running
  ``host-model`` guest shows up like this too: libvirt expands it in the live XML.
- ``host-model`` without a model (a shut-off guest): it takes the destination's own
  host-model CPU when it starts, so any host will do as far as the model goes.
- ``host-passthrough`` / ``maximum``: the host's exact CPU, every feature of it.
- no ``<cpu>``: QEMU's default model (``qemu64``), which every x86 host provides.

The vendor is the host's: what cannot be done is moving a running guest between Intel
and AMD hardware, whatever model name the guest is shown (TCG even shows Intel models on
AMD hosts). Only when the host's vendor is unknown does the model's vendor stand in.
"""

from __future__ import annotations

from balancer.core.models import GuestCpu
from workers.agent.domain_xml import DomainFacts
from workers.agent.host_caps import vendor_of_model
from workers.agent.host_facts import UNKNOWN, HostFacts

DEFAULT_MODEL = "qemu64"


def guest_cpu(domain: DomainFacts, host: HostFacts) -> GuestCpu:
    vendor = host.cpu_vendor
    if vendor == UNKNOWN:
        vendor = domain.cpu_vendor or vendor_of_model(domain.cpu_model) or UNKNOWN
    if domain.cpu_mode in ("host-passthrough", "maximum"):
        return GuestCpu(vendor=vendor, model=host.cpu_model, features=host.cpu_features)
    if domain.cpu_model:
        return GuestCpu(vendor=vendor, model=domain.cpu_model, features=domain.cpu_features)
    return GuestCpu(vendor=vendor, model=DEFAULT_MODEL, features=domain.cpu_features)
