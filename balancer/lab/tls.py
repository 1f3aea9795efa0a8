"""The lab's own CA and each host's certificates for TLS migration (``VIR_MIGRATE_TLS``).

    <lab>/pki/ca-cert.pem, ca-key.pem        the lab's CA (made once per lab)
    <host>/pki/ca-cert.pem                    what QEMU reads from ``migrate_tls_x509_cert_dir``:
    <host>/pki/server-cert.pem, -key.pem      the host as a migration destination
    <host>/pki/client-cert.pem, -key.pem      the host as a migration source

Both leaf certificates name the host's migration addresses (``127.0.0.(10+k)`` and its
dedicated ``127.0.1.(10+k)``), since QEMU checks the destination's certificate against
the address in the migration URI. Made with ``trustme`` (a test CA library), imported
only here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import trustme


def _lab_ca(root: Path) -> trustme.CA:
    pki = root / "pki"
    cert, key = pki / "ca-cert.pem", pki / "ca-key.pem"
    if cert.exists() and key.exists():
        return trustme.CA.from_pem(cert.read_bytes(), key.read_bytes())
    pki.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="kvm-balancer lab")
    key.write_bytes(ca.private_key_pem.bytes())
    key.chmod(0o600)
    cert.write_bytes(ca.cert_pem.bytes())
    return ca


def write_host_pki(root: Path, host_dir: Path, addresses: Sequence[str]) -> Path:
    """The host's QEMU TLS directory (made once; kept across daemon restarts)."""
    pki = host_dir / "pki"
    if (pki / "server-cert.pem").exists():
        return pki
    ca = _lab_ca(root)
    pki.mkdir(parents=True, exist_ok=True)
    (pki / "ca-cert.pem").write_bytes(ca.cert_pem.bytes())
    for role in ("server", "client"):
        leaf = ca.issue_cert(*addresses, "localhost", common_name=addresses[0])
        key = pki / f"{role}-key.pem"
        key.write_bytes(leaf.private_key_pem.bytes())
        key.chmod(0o600)
        (pki / f"{role}-cert.pem").write_bytes(b"".join(c.bytes() for c in leaf.cert_chain_pems))
    return pki
