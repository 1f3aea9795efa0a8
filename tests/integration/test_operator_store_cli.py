"""The operator's commands as processes against a real redis-server holding the example
cluster (config/examples/cluster-small.json), no daemon and no worker: ``plan`` as the
daemon's dry run on the live store, ``explain``, ``status --watch``, ``drain``/``undrain``,
``power on|off``, ``host forget``, ``migrate --json``; and for each command its bad input:
exit 2, one line naming the problem, and the store exactly as it was (issues 12 and 17)."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import redis

from balancer.snapshot_file import load_snapshot
from balancer.state.keys import DEFAULT_KEYS as KEYS
from tests.fixtures.ctrl_c import press_ctrl_c
from tests.fixtures.redis_server import RedisFactory
from tests.integration.fleet_processes import REPO, balancer_argv
from tests.integration.store_seed import seed_store

pytestmark = pytest.mark.redis
EXAMPLE = REPO / "config" / "examples" / "cluster-small.json"


def balancer(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(balancer_argv(*args), cwd=REPO, input=stdin, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip


@pytest.fixture
def store(redis_url: str, redis_client: redis.Redis) -> str:
    seed_store(redis_client, load_snapshot(EXAMPLE))
    return redis_url


def everything(client: redis.Redis) -> dict[bytes, object]:
    """Every key of the store with its content and whether it expires: equal before and
    after a refused command means the command wrote nothing. (Not DUMP: a lookup may
    rehash a set, which reorders its serialization without changing it.)"""
    read = {
        b"string": client.get,
        b"hash": client.hgetall,
        b"set": client.smembers,
        b"list": lambda k: client.lrange(k, 0, -1),
        b"zset": lambda k: client.zrange(k, 0, -1, withscores=True),
        b"stream": client.xrange,
    }
    out: dict[bytes, object] = {}
    for key in sorted(client.keys("*")):
        kind = client.type(key)
        out[key] = (kind, read[kind](key), client.ttl(key) >= 0)  # type: ignore[index,operator]
    return out


def one_line_error(result: subprocess.CompletedProcess[str], *says: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    for text in says:
        assert text in lines[0], (text, lines[0])


# --- plan: the daemon's dry run on the live store ------------------------------------------


def test_plan_without_snapshot_is_a_dry_run_exiting_3_for_vms_left_behind(
    store: str, redis_client: redis.Redis
) -> None:
    evacuate = balancer("evacuate", "kvm-03", "--reason", "DIMM", "--redis", store)
    assert evacuate.returncode == 0, evacuate.stderr
    before = everything(redis_client)

    result = balancer("plan", "--json", "--redis", store)
    assert result.returncode == 3, (result.stdout, result.stderr)
    plan = json.loads(result.stdout)
    left = {u["vm"]: (u["host"], u["reason"]) for u in plan["left_behind"]}
    # legacy-app's 20 GiB local disk is copied as it moves; archive's 100 GiB exceed the
    # policy's storage copy limit.
    assert left == {"gpu-render": ("kvm-03", "passthrough-device"),
                    "archive": ("kvm-03", "no-destination")}  # fmt: skip
    assert [(m["vm"], m["from"]) for m in plan["moves"]] == [("legacy-app", "kvm-03")]
    assert "2 VM(s) stay on hosts to be emptied" in result.stderr
    assert "gpu-render" in result.stderr
    assert "archive" in result.stderr

    table = balancer("plan", "--redis", store)
    assert table.returncode == 3, table.stderr
    assert "archive" in table.stdout
    assert "gpu-render" in table.stdout
    assert everything(redis_client) == before  # a dry run: nothing written, nothing sent


def test_plan_of_a_balanced_store_exits_0(store: str) -> None:
    result = balancer("plan", "--json", "--redis", store)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["left_behind"] == []


def test_explain_says_why_a_vm_stays_or_goes(store: str) -> None:
    assert balancer("evacuate", "kvm-03", "--redis", store).returncode == 0
    moving = json.loads(balancer("explain", "legacy-app", "--json", "--redis", store).stdout)
    assert moving["vm"] == "legacy-app"
    assert moving["move"]["to"] != "kvm-03"
    staying = balancer("explain", "gpu-render", "--redis", store)
    assert staying.returncode == 0, staying.stderr
    assert "passthrough" in staying.stdout
    too_big = balancer("explain", "archive", "--redis", store)
    assert too_big.returncode == 0, too_big.stderr
    assert "storage copy limit" in too_big.stdout


def test_a_host_already_being_evacuated_is_refused(store: str, redis_client: redis.Redis) -> None:
    first = balancer("evacuate", "kvm-03", "--redis", store)
    assert first.returncode == 0, first.stderr
    evacuation = first.stdout.split(":")[0]
    before = everything(redis_client)
    again = balancer("evacuate", "kvm-03", "--redis", store)
    one_line_error(again, "kvm-03 is already being evacuated", evacuation)
    drain = balancer("drain", "kvm-03", "--redis", store)
    one_line_error(drain, "kvm-03")
    assert everything(redis_client) == before


# --- status --watch --------------------------------------------------------------------------


def test_status_watch_refreshes_until_interrupted(store: str) -> None:
    argv = balancer_argv("status", "--watch", "--every", "0.2", "--redis", store)
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    time.sleep(3.0)
    out, err = press_ctrl_c(proc)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    refreshes = [line for line in out.splitlines() if line.startswith("--- ")]
    assert len(refreshes) >= 3, out
    assert "hosts       5 active, 1 off" in out
    assert "no daemon acts" in out


# --- drain / undrain -------------------------------------------------------------------------


def test_drain_then_undrain(store: str) -> None:
    drained = balancer("drain", "kvm-06", "--reason", "retire", "--redis", store)
    assert drained.returncode == 0, drained.stderr
    rows = {r["name"]: r for r in json.loads(balancer("hosts", "--json", "--redis", store).stdout)}
    assert (rows["kvm-06"]["state"], rows["kvm-06"]["reason"]) == ("draining", "retire")
    evacuations = json.loads(balancer("evacuations", "--json", "--redis", store).stdout)
    assert [(e["host"], e["state"], e["reason"]) for e in evacuations] == [
        ("kvm-06", "running", "retire")]  # fmt: skip

    undrained = balancer("undrain", "kvm-06", "--redis", store)
    assert undrained.returncode == 0, undrained.stderr
    rows = {r["name"]: r for r in json.loads(balancer("hosts", "--json", "--redis", store).stdout)}
    assert rows["kvm-06"]["state"] == "active"
    evacuations = json.loads(balancer("evacuations", "--json", "--redis", store).stdout)
    assert [e["state"] for e in evacuations] == ["cancelled"]


# --- power on|off, host forget, migrate --json ----------------------------------------------


def test_power_on_an_off_host_is_sent_as_an_operators_task(
    store: str, redis_client: redis.Redis
) -> None:
    result = balancer("power", "on", "kvm-04", "--json", "--redis", store)
    assert result.returncode == 0, result.stderr
    sent = json.loads(result.stdout)
    assert (sent["host"], sent["action"]) == ("kvm-04", "on")
    queued = [m for k in redis_client.keys("*") if redis_client.type(k) == b"list"
              for m in redis_client.lrange(k, 0, -1)]  # fmt: skip
    assert [m for m in queued if sent["id"].encode() in m], queued  # the task is in the broker
    redis_client.set(KEYS.power_lease("kvm-04"), "worker-1", ex=60)  # a worker runs it
    before = everything(redis_client)
    again = balancer("power", "on", "kvm-04", "--redis", store)
    one_line_error(again, "a power action on kvm-04 is under way")
    assert everything(redis_client) == before


def test_host_forget_removes_a_host_that_is_gone(store: str, redis_client: redis.Redis) -> None:
    redis_client.delete(KEYS.alive("kvm-04"))  # its agent stopped reporting
    result = balancer("host", "forget", "kvm-04", "--redis", store)
    assert result.returncode == 0, result.stderr
    names = [r["name"] for r in json.loads(balancer("hosts", "--json", "--redis", store).stdout)]
    assert "kvm-04" not in names
    assert "kvm-01" in names


def test_migrate_json_prints_the_queued_move(store: str) -> None:
    dry = balancer("migrate", "web-1", "--to", "kvm-02", "--dry-run", "--json", "--redis", store)
    assert dry.returncode == 0, dry.stderr
    order = json.loads(dry.stdout)
    assert (order["vm"], order["source"], order["dest"]) == ("web-1", "kvm-01", "kvm-02")
    assert "web-1: kvm-01 → kvm-02" in dry.stderr  # the human line is not in the JSON
    sent = balancer("migrate", "web-1", "--to", "kvm-02", "--json", "--redis", store)
    assert sent.returncode == 0, sent.stderr
    queued = json.loads(sent.stdout)
    assert queued["vm"] == "web-1"
    assert queued["id"]


# --- bad input: exit 2, one line, nothing written --------------------------------------------

HUGE = str(2**1024)
BAD_INPUT: list[tuple[tuple[str, ...], str | None, tuple[str, ...]]] = [
    (("plan", "--objective", "evacuate", "--evacuate", "kvm-99"), None, ("kvm-99",)),
    (("plan", "--explain", "ghost"), None, ("ghost",)),
    (("plan", "--headroom", "nan"), None, ("--headroom",)),
    (("plan", "--settings", "{\"interval_s\": 1e999}"), None, ("--settings",)),
    (("explain", "ghost"), None, ("ghost",)),
    (("explain", "web\x1b[31m-1"), None, ("control character",)),
    (("status", "--watch", "--every", "inf"), None, ("--every",)),
    (("evacuate", "kvm-99"), None, ("unknown host 'kvm-99'",)),
    (("evacuate", "kvm-01", "kvm-01"), None, ("named twice",)),
    (("drain", "nowhere"), None, ("unknown host 'nowhere'",)),
    (("undrain", "kvm-01"), None, ("kvm-01",)),
    (("power", "off", "kvm-01"), None, ("kvm-01 holds 5 VM(s)", "balancer drain kvm-01")),
    (("power", "off", "kvm-04"), None, ("kvm-04 is already off",)),
    (("power", "on", "kvm-01"), None, ("kvm-01 is active, not off",)),
    (("power", "on", "kvm-99"), None, ("unknown host 'kvm-99'",)),
    (("power", "reboot", "kvm-01"), None, ("reboot",)),
    (("host", "forget", "kvm-01"), None, ("kvm-01 is alive",)),
    (("host", "forget", "kvm-99"), None, ("kvm-99",)),
    (("migrate", "web-1", "--to", "kvm-99", "--json"), None, ("no host named 'kvm-99'",)),
    (("migrate", "web-1", "--to", "kvm-02", "--from", "kvm-03"), None, ("not on kvm-03",)),
    (("migrations", "--watch", "--every", "nan"), None, ("--every",)),
    (("migrations", "--since", "-inf"), None, ("--since",)),
    (("cancel", "no-such-evacuation"), None, ("no-such-evacuation",)),
    (("resume", "no-such-evacuation"), None, ("no-such-evacuation",)),
    # issue 17's store findings: what the reader would refuse is refused at the door
    (("policy", "set", "-"), f'{{"downtime_budget_ms": {HUGE}}}', ("downtime_budget_ms",)),
    (("policy", "set", "-"), '{"objective": "evacuate"}', ("evacuate",)),
    (("policy", "set", "-"), '{"headroom": 1e999}', ("headroom", "out of range")),
    (("policy", "set", "-"), '{"headroom": NaN}', ("not valid JSON",)),
    (("rules", "put", "-"),
     '{"r1": {"type": "affinity", "vms": ["web-1", "web-2"]},'
     ' "r2": {"type": "anti-affinity", "vms": ["web-1", "web-2"]}}', ("contradict",)),
    (("rules", "put", "-"),
     '{"r1": {"type": "affinity", "vms": ["web-1", "web-2"]},'
     ' "r1": {"type": "anti-affinity", "vms": ["cache-1", "archive"]}}', ("given twice",)),
    (("rules", "put", "-"), '{"p": {"type": "pin", "vm": "web-1", "hosts": []}}', ("pin",)),
    (("vm", "unlabel", "ghost", "tier"), None, ("unknown VM 'ghost'",)),
    (("vm", "label", "web-1", "k=\x1b[2J"), None, ("control character",)),
]  # fmt: skip


@pytest.mark.parametrize(("args", "stdin", "says"), BAD_INPUT, ids=lambda x: repr(x)[:40])
def test_bad_input_exits_2_in_one_line_and_writes_nothing(
    store: str, redis_client: redis.Redis, args: tuple[str, ...], stdin: str | None,
    says: tuple[str, ...],
) -> None:  # fmt: skip
    before = everything(redis_client)
    result = balancer(*args, "--redis", store, stdin=stdin)
    one_line_error(result, *says)
    assert "\x1b" not in result.stderr
    assert everything(redis_client) == before


def test_a_redis_that_needs_a_password_says_so(redis_server_factory: RedisFactory) -> None:
    server = redis_server_factory(extra=["--requirepass", "s3cret"])
    result = balancer("hosts", "--redis", server.url)
    assert result.returncode == 2, result.stderr
    assert "needs a password" in result.stderr
    assert "HELLO" not in result.stderr
    wrong = balancer("hosts", "--redis", server.url_for("default", "nope"))
    assert wrong.returncode == 2, wrong.stderr
    assert "refused the user name and password" in wrong.stderr
    assert "nope" not in wrong.stderr


def test_no_command_prints_a_traceback_for_an_unreachable_store() -> None:
    url = "redis://127.0.0.1:1/0"
    for args in (("status",), ("plan",), ("explain", "web-1"), ("drain", "kvm-01"),
                 ("power", "off", "kvm-01"), ("host", "forget", "kvm-01")):  # fmt: skip
        result = balancer(*args, "--redis", url)
        assert result.returncode == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)
