"""How a migration's options become ``virDomainMigrateToURI3``'s flags and parameters:
the mode's flags (peer to peer, persistent on the destination, the source undefined),
the transport (TLS, parallel connections, compression), the link (bandwidth, a dedicated
migration URI and the address the destination listens on) and the destination's
rewritten definitions (``dest_xml``)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import libvirt

from balancer.core.migration_model import Mode
from workers.executor.dest_xml import rewrite
from workers.executor.hypervisor import StartOptions

_P2P = libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_PERSIST_DEST
_P2P |= libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
FLAGS: dict[str, int] = {
    "live": _P2P | libvirt.VIR_MIGRATE_LIVE,
    "live-postcopy": _P2P | libvirt.VIR_MIGRATE_LIVE,
    "non-live": _P2P,
    "offline": _P2P | libvirt.VIR_MIGRATE_OFFLINE,
}
#: QEMU's auto-converge: first throttle and step, in % of vCPU time (QEMU's defaults).
AUTO_CONVERGE_INITIAL, AUTO_CONVERGE_INCREMENT = 20, 10
LIVE = ("live", "live-postcopy")


def transport_flags(opts: StartOptions) -> int:
    flags = libvirt.VIR_MIGRATE_TLS if opts.tls else 0
    if opts.connections > 1 or opts.compression in ("zlib", "zstd"):
        flags |= libvirt.VIR_MIGRATE_PARALLEL
    if opts.compression != "none":
        flags |= libvirt.VIR_MIGRATE_COMPRESSED
    return flags


def migrate_params(
    dom: Any,
    mode: Mode,
    bandwidth_mib_s: float | None,
    opts: StartOptions,
    volume_paths: Mapping[str, str],
) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if bandwidth_mib_s and mode != "offline":
        params[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH] = max(1, int(bandwidth_mib_s))
    if opts.migration_uri and mode != "offline":
        params[libvirt.VIR_MIGRATE_PARAM_URI] = opts.migration_uri
        host = urlsplit(opts.migration_uri).hostname or ""
        try:
            ipaddress.ip_address(host)
            params[libvirt.VIR_MIGRATE_PARAM_LISTEN_ADDRESS] = host
        except ValueError:
            pass  # a name: the destination listens where its configuration says
    if mode != "offline" and (opts.connections > 1 or opts.compression in ("zlib", "zstd")):
        params[libvirt.VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS] = max(2, opts.connections)
    if opts.compression != "none" and mode != "offline":
        params[libvirt.VIR_MIGRATE_PARAM_COMPRESSION] = opts.compression
    paths = {**(opts.rewrite.paths if opts.rewrite else {}), **volume_paths}
    networks = opts.rewrite.networks if opts.rewrite else {}
    if paths or networks:
        migratable = libvirt.VIR_DOMAIN_XML_MIGRATABLE
        live = dom.XMLDesc(migratable)
        params[libvirt.VIR_MIGRATE_PARAM_DEST_XML] = rewrite(live, paths, networks)
        if dom.isPersistent() and mode != "offline":
            inactive = dom.XMLDesc(migratable | libvirt.VIR_DOMAIN_XML_INACTIVE)
            params[libvirt.VIR_MIGRATE_PARAM_PERSIST_XML] = rewrite(inactive, paths, networks)
    return params
