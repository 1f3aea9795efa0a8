"""The role users of ``balancer acl roles`` really run the system: a real redis-server
listening with TLS only (its own CA) with exactly those users (applied by redis-cli as
printed), the simulated fleet (as the admin: it stands in for the hosts), a Celery worker
as ``worker``, a daemon as ``daemon``, the exporter as ``reader``, and every CLI command
that touches the store as its role, all on ``rediss://`` URLs with the server's
certificate verified — and the server's ACL LOG stays empty: nothing any of them did was
refused. A client trusting another CA is refused (agent, daemon, exporter)."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from functools import partial
from pathlib import Path

import pytest
import trustme

from balancer.state.keys import Keys
from tests.fixtures.redis_server import RedisFactory, free_port
from tests.integration.acl_users import AclUsers, acl_denials, apply_acl
from tests.integration.agent_processes import balancer, write_node
from tests.integration.fleet_processes import (
    DaemonProcess,
    Fleet,
    FleetWorker,
    Process,
    balancer_argv,
    processes,
    wait_until,
)
from tests.integration.system_checks import fleet_problems, quiet
from tests.integration.test_celery_tls import tls_files

__all__ = ["processes"]
pytestmark = pytest.mark.redis
KEYS = Keys()
SETTINGS: dict[str, object] = {
    "consolidate_every_s": 300, "forecast_window_s": 600, "min_on_s": 120, "min_off_s": 60,
    "boot_s": 300,
}  # fmt: skip


def run(users: AclUsers, user: str, *args: str, stdin: str | None = None) -> str:
    """``balancer ARGS`` with ``user``'s URL in the environment; must succeed."""
    r = _balancer(users, user, *args, stdin=stdin)
    assert r.returncode == 0, (args, r.stdout, r.stderr, acl_denials(users))
    return r.stdout


def _balancer(
    users: AclUsers, user: str, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        balancer_argv(*args),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"BALANCER_REDIS_URL": users.url(user), "PATH": "/usr/bin:/bin",
             "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )  # fmt: skip
    assert users.passwords[user] not in r.stdout + r.stderr
    return r


def test_every_role_runs_its_commands_and_nothing_is_refused(
    tmp_path: Path, redis_server_factory: RedisFactory, processes: list[Process]
) -> None:
    server = redis_server_factory(tls=tls_files(tmp_path / "tls", trustme.CA()))
    users = apply_acl(server, fleet=True)
    assert users.url("daemon").startswith("rediss://")  # verified: the URL names the CA
    fleet = Fleet(tmp_path / "fleet.log", server.url, "--hosts", "5", "--vms", "30",
                  "--placement", "spread", "--speed", "20", "--interval", "30",
                  "--boot-s", "60")  # fmt: skip
    processes.append(fleet)
    processes.append(FleetWorker(tmp_path, users.url("worker"), "w1", concurrency=2))
    port = free_port()
    exporter = Process(
        balancer_argv("exporter", "--redis", users.url("reader"), "--port", str(port),
                      "--clock", "fleet", "--refresh-s", "0.5"),
        tmp_path / "exporter.log",
    )  # fmt: skip
    processes.append(exporter)

    # reader: every listing, the snapshot, status, records, the exporter.
    hosts = json.loads(run(users, "reader", "hosts", "--json"))
    names = sorted(h["name"] for h in hosts)
    assert len(names) == 5
    vms = json.loads(run(users, "reader", "vms", "--json"))
    vm, source = vms[0]["name"], vms[0]["host"]
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(run(users, "reader", "snapshot", "export"))
    run(users, "reader", "status", "--json")
    run(users, "reader", "migrations", "--json")
    run(users, "reader", "evacuations", "--json")
    run(users, "reader", "rules", "show")
    run(users, "reader", "policy", "show")
    wait_until("the exporter's metrics", lambda: _scrape(port) is not None, 60, exporter.log)
    assert "kvmb_" in (_scrape(port) or "")

    # dispatcher: a move now (the planner refuses, exit 2, one that does not fit), and a
    # plan made from the snapshot.
    other, spare = [n for n in names if n != source][:2]
    tried = []
    for dest in (n for n in names if n not in (source, other, spare)):
        tried.append(_balancer(users, "dispatcher", "migrate", vm, "--to", dest, "--wait"))
        if tried[-1].returncode != 2:
            break
    assert tried[-1].returncode == 0, [(r.stdout, r.stderr) for r in tried]
    plan = tmp_path / "plan.json"
    plan.write_text(run(users, "reader", "plan", "--snapshot", str(snapshot),
                        "--objective", "consolidate", "--format", "json"))  # fmt: skip
    run(users, "dispatcher", "execute", "--plan", str(plan), "--snapshot", str(snapshot))

    _operator_commands(users, vm, spare, names)

    # daemon: it leads, plans and sends; the operator's evacuation runs through it.
    daemon = DaemonProcess(tmp_path, users.url("daemon"), "d1", settings=SETTINGS)
    processes.append(daemon)
    wait_until("a cycle of the daemon", lambda: "cycle" in daemon.log(), 60, daemon.log)
    evacuation = run(users, "operator", "evacuate", other, "--reason", "acl test").split(":")[0]
    run(users, "operator", "cancel", evacuation)
    run(users, "operator", "resume", evacuation)

    # The exporter is scraped while moves run (it reads their progress and slots then).
    wait_until("the evacuation to be done",
               lambda: _scrape(port) is not None and _evacuated(users, other), 120,
               lambda: f"{acl_denials(users)} {daemon.log()[-3000:]}")  # fmt: skip
    wait_until("the moves to end", lambda: quiet(fleet.client), 120)
    assert fleet_problems(fleet.client, 30) == []
    assert "Traceback" not in daemon.log() + exporter.log()
    assert acl_denials(users) == []


def _operator_commands(users: AclUsers, vm: str, spare: str, names: list[str]) -> None:
    """Every operator command that writes a fact or an intent (the evacuation apart)."""
    run(users, "operator", "host", "set-state", spare, "maintenance", "--reason", "acl test")
    run(users, "operator", "host", "clear-state", spare)
    run(users, "operator", "vm", "label", vm, "team=web")
    run(users, "operator", "vm", "unlabel", vm, "team")
    rules = json.dumps({"pin-1": {"type": "pin", "vm": vm, "hosts": names}})
    run(users, "operator", "rules", "put", "-", stdin=rules)
    run(users, "operator", "rules", "delete", "pin-1")
    run(users, "operator", "policy", "set", "-", stdin='{"headroom": 0.1}')
    run(users, "operator", "policy", "clear")
    run(users, "operator", "pause", "--reason", "acl test")
    run(users, "operator", "resume")


def _says(proc: Process, text: str) -> bool:
    return text in proc.log()


def _scrape(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            body: str = r.read().decode()
            return body
    except OSError:
        return None


def _evacuated(users: AclUsers, host: str) -> bool:
    with users.admin() as admin:
        return int(admin.scard(KEYS.sim_host_vms(host))) == 0


def test_a_server_certificate_of_another_ca_is_refused(
    tmp_path: Path, redis_server_factory: RedisFactory, processes: list[Process]
) -> None:
    """Agent, daemon and exporter given a URL that trusts another CA: none of them
    talks to the server (the password never leaves), each says why."""
    server = redis_server_factory(tls=tls_files(tmp_path / "tls", trustme.CA()))
    users = apply_acl(server, "h1")
    other_ca = tls_files(tmp_path / "other", trustme.CA()).ca
    wrong = {u: users.url(u).replace(str(server.tls.ca), str(other_ca))  # type: ignore[union-attr]
             for u in ("agent-h1", "daemon", "reader")}  # fmt: skip
    agent = balancer("agent", "--libvirt-uri", write_node(tmp_path, "h1", ("a1",)), "--host-name",
                     "h1", "--once", env={"BALANCER_REDIS_URL": wrong["agent-h1"],
                                          "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert agent.returncode == 1
    assert "certificate verify failed" in agent.stderr
    daemon = DaemonProcess(tmp_path, wrong["daemon"], "d1", settings=SETTINGS)
    processes.append(daemon)
    port = free_port()
    exporter = Process(balancer_argv("exporter", "--redis", wrong["reader"], "--port", str(port)),
                       tmp_path / "exporter.log")  # fmt: skip
    processes.append(exporter)
    for proc in (daemon, exporter):
        wait_until("a certificate error", partial(_says, proc, "certificate verify failed"),
                   60, proc.log)  # fmt: skip
    with users.admin() as admin:
        assert admin.keys("kvmb:*") == [b"kvmb:schema"]  # nothing written by any of them
    for password in users.passwords.values():
        assert password not in daemon.log() + exporter.log() + agent.stderr


def test_tls_without_verification_is_refused_unless_insecure_and_then_warned(
    tmp_path: Path, redis_server_factory: RedisFactory, processes: list[Process]
) -> None:
    """The agent and the daemon, like the CLI and Celery (test_celery_tls.py): a URL that
    turns the certificate check off is refused (exit 2, naming --insecure); with
    ``balancer --insecure`` it runs and warns at its start."""
    server = redis_server_factory(tls=tls_files(tmp_path / "tls", trustme.CA()))
    users = apply_acl(server, "h1")
    unverified = {u: users.url(u) + "&ssl_cert_reqs=none" for u in ("agent-h1", "daemon")}
    node = write_node(tmp_path, "h1", ("a1",))
    env = {"BALANCER_REDIS_URL": unverified["agent-h1"], "PATH": "/usr/bin:/bin"}
    refused = balancer("agent", "--libvirt-uri", node, "--host-name", "h1", "--once", env=env)
    assert refused.returncode == 2
    assert "--insecure" in refused.stderr
    agent = balancer("--insecure", "agent", "--libvirt-uri", node, "--host-name", "h1",
                     "--once", env=env)  # fmt: skip
    assert agent.returncode == 0, agent.stderr
    assert "without verifying the server (--insecure)" in agent.stderr
    daemon = Process(
        balancer_argv(
            "--insecure",
            "-v",
            "daemon",
            "--redis",
            unverified["daemon"],
            "--id",
            "d1",
            "--metrics-port",
            "0",
        ),
        tmp_path / "daemon.log",
    )
    processes.append(daemon)
    wait_until("the daemon's warning", partial(_says, daemon, "(--insecure)"), 60, daemon.log)
    wait_until("the daemon to lead", partial(_says, daemon, "leads"), 60, daemon.log)
    assert users.passwords["daemon"] not in daemon.log()
    assert acl_denials(users) == []
