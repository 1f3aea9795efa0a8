"""``balancer migrate VM --to HOST`` against a real redis-server holding the example
cluster: bad input and moves the planner refuses exit 2 with the reason and queue
nothing; an accepted move is queued at its priority (what the worker will BRPOP)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
import redis

from balancer.snapshot_file import load_snapshot
from balancer.state.operator import set_policy
from tests.integration.store_seed import seed_store

pytestmark = pytest.mark.redis
EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "cluster-small.json"


def balancer(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "balancer.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


def queued(client: redis.Redis) -> dict[str, list[bytes]]:
    """The broker's lists (one per priority step) and the messages in them."""
    names = [k.decode() if isinstance(k, bytes) else k for k in client.keys("migrations*")]
    keys = [k for k in names if client.type(k) == b"list"]
    return {k: [m.encode() if isinstance(m, str) else m for m in client.lrange(k, 0, -1)]
            for k in keys}  # fmt: skip


@pytest.fixture
def store(redis_url: str, redis_client: redis.Redis) -> str:
    seed_store(redis_client, load_snapshot(EXAMPLE))
    return redis_url


@pytest.mark.parametrize(
    ("vm", "host", "extra", "says"),
    [
        ("nope", "kvm-02", (), "no VM named 'nope'"),
        ("web-1", "kvm-99", (), "no host named 'kvm-99'"),
        ("web-1", "kvm-01", (), "web-1 already runs on kvm-01"),
        ("web-1", "kvm-04", (), "kvm-04 is off"),
        ("epyc-svc", "kvm-02", (), "cpu-vendor: guest CPU is AMD, kvm-02 is Intel"),
        ("monitor", "kvm-03", (), "pin: monitor is pinned to kvm-02, kvm-06"),
        ("gpu-render", "kvm-02", (), "passthrough: gpu-render has 1 hostdev"),
        ("numa-hpc", "kvm-01", (), "capacity: kvm-01 has"),
        (
            "archive",
            "kvm-01",
            (),
            "storage: disk on pool local is not shared and its 100.0 GiB "
            "exceed the policy's storage copy limit (64 GiB)",
        ),
        ("ci-runner", "kvm-01", (), "ci-runner fits on kvm-01 only after moving web-1 off it"),
        ("legacy-app", "kvm-01", ("--mode", "offline"), "offline is for shut-off VMs only"),
        ("db-primary", "kvm-02", ("--mode", "post-copy"), "db-primary is critical"),
    ],
)
def test_refused_moves_exit_2_say_why_and_queue_nothing(
    store: str, redis_client: redis.Redis, vm: str, host: str, extra: tuple[str, ...], says: str
) -> None:
    r = balancer("migrate", vm, "--to", host, *extra, "--redis", store)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith("error: "), r.stderr
    assert says in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stdout == ""
    assert queued(redis_client) == {}


def test_an_accepted_move_is_queued_at_its_priority(store: str, redis_client: redis.Redis) -> None:
    r = balancer("migrate", "ci-runner", "--to", "kvm-03", "--redis", store)
    assert r.returncode == 0, r.stderr
    assert "ci-runner: kvm-02 → kvm-03 (live" in r.stderr
    task_id = r.stdout.strip()
    lists = queued(redis_client)
    assert list(lists) == ["migrations:6"]  # balance: step 6 of kombu's priority lists
    [raw] = lists["migrations:6"]
    message = json.loads(raw)
    assert message["headers"]["task"] == "balancer.migrate"
    assert message["headers"]["id"] == task_id
    assert message["properties"]["priority"] == 6
    r2 = balancer("migrate", "cache-1", "--to", "kvm-03", "--priority", "evacuate",
                  "--redis", store)  # fmt: skip
    assert r2.returncode == 0, r2.stderr
    assert sorted(queued(redis_client)) == ["migrations", "migrations:6"]  # 0: no suffix


def test_dry_run_prints_the_order_and_queues_nothing(store: str, redis_client: redis.Redis) -> None:
    # archive's local disk (100 GiB) is over the default storage copy limit.
    set_policy(redis_client, msgspec.structs.replace(
        load_snapshot(EXAMPLE).policy, storage_copy_max_gib=128))  # fmt: skip
    r = balancer("migrate", "archive", "--to", "kvm-02", "--dry-run", "--redis", store)
    assert r.returncode == 0, r.stderr
    order = json.loads(r.stdout)
    assert (order["vm"], order["source"], order["dest"]) == ("archive", "kvm-03", "kvm-02")
    assert order["mode"] == "offline"
    assert order["expected_state"] == "shutoff"
    assert order["predicted"]["duration_s"] > 0
    assert order["copy_storage"] is True
    assert order["copy_bytes"] == 100 << 30
    assert queued(redis_client) == {}


def test_an_unreachable_store_exits_1(tmp_path: Path) -> None:
    r = balancer("migrate", "web-1", "--to", "kvm-02", "--redis", "redis://127.0.0.1:1/0")
    assert r.returncode == 1
    assert r.stderr.startswith("error: Redis redis://127.0.0.1:1/0")
