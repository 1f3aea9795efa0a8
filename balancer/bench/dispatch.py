"""``python -m balancer.bench dispatch``: what sending a plan puts on the broker.

A seeded synthetic cluster (``cluster_gen``) and a plan of ``--moves`` moves spread evenly
over ``--waves`` waves are sent with ``workers.dispatch.send_plan`` to a private
redis-server (or ``--redis URL``, whose db is flushed). Prints JSON: the snapshot's JSON
size (what ``execute_plan`` used to carry in one message), the messages queued for the
first wave, their total and largest size, the bytes of one order, the later waves kept
in Redis until their turn, and the send time (median of ``--repeat``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

import msgspec
import redis

from balancer.bench.cluster_gen import generate
from balancer.bench.own_redis import own_redis
from balancer.core.models import Snapshot
from balancer.core.plan import Move, MoveEstimate, MoveReason, Plan, Spread, Summary
from balancer.state.keys import Keys
from workers.celery_app import make_app
from workers.dispatch import send_plan
from workers.executor.order import encode, order_from_move


def synthetic_plan(snapshot: Snapshot, moves: int, waves: int) -> Plan:
    """``moves`` VMs each to the next host, wave by wave (sizes only: not a valid plan)."""
    hosts = [h.name for h in snapshot.hosts]
    est = MoveEstimate(duration_s=10.0, downtime_ms=50.0, bytes=1 << 30)
    chosen = snapshot.vms[:moves]
    spread = Spread(cpu=0.0, memory=0.0)
    return Plan(
        generation=snapshot.generation, taken_at=snapshot.taken_at, power=(), unmovable=(),
        moves=tuple(Move(vm=vm.name, source=vm.host, to=hosts[(hosts.index(vm.host) + 1)
                                                               % len(hosts)],
                         mode="live", wave=1 + i * waves // len(chosen),
                         reason=MoveReason.BALANCE, estimate=est)
                    for i, vm in enumerate(chosen)),
        summary=Summary(objective="balance", active_hosts_before=len(hosts),
                        active_hosts_after=len(hosts), spread_before=spread, spread_after=spread,
                        migrations=len(chosen), waves=waves, total_bytes=0,
                        total_duration_s=0.0, max_downtime_ms=0.0, overloaded_hosts_before=0,
                        overloaded_hosts_after=0),
    )  # fmt: skip


def clean(snapshot: Snapshot) -> Snapshot:
    """The generated snapshot with numpy scalars as plain values (as a decoded one has)."""

    def plain(obj: Any) -> Any:
        if hasattr(obj, "item"):
            return obj.item()
        raise NotImplementedError(type(obj))

    return msgspec.json.decode(msgspec.json.encode(snapshot, enc_hook=plain), type=Snapshot)


def queued(client: redis.Redis) -> list[bytes]:
    keys = [k for k in client.keys("migrations*") if client.type(k) == b"list"]
    return [
        m if isinstance(m, bytes) else m.encode() for k in keys for m in client.lrange(k, 0, -1)
    ]


def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    snapshot = clean(generate(args.hosts, args.vms, args.seed))
    plan = synthetic_plan(snapshot, args.moves, args.waves)
    vm = next(v for v in snapshot.vms if v.name == plan.moves[0].vm)
    order = order_from_move(plan.moves[0], vm, snapshot.policy, id="0" * 36, plan_id="p" * 20,
                            epoch=123)  # fmt: skip
    client, app = redis.Redis.from_url(url), make_app(url)
    seconds, sizes, stored = [], [], 0
    try:
        for _ in range(args.repeat):
            client.flushdb()
            t0 = time.perf_counter()
            send_plan(app, plan, snapshot, epoch=123, plan_id="p" * 20)
            seconds.append(time.perf_counter() - t0)
            sizes = [len(m) for m in queued(client)]
            waves_key = Keys().plan_waves("p" * 20)
            stored = sum(client.hstrlen(waves_key, f) for f in client.hkeys(waves_key))
    finally:
        app.close()
        client.close()
    return {
        "hosts": args.hosts,
        "vms": args.vms,
        "moves": len(plan.moves),
        "waves": args.waves,
        "snapshot_json_bytes": len(msgspec.json.encode(snapshot)),
        "order_json_bytes": len(msgspec.json.encode(encode(order))),
        "first_wave_messages": len(sizes),
        "first_wave_bytes": sum(sizes),
        "largest_message_bytes": max(sizes, default=0),
        "later_waves_stored_bytes": stored,
        "send_seconds_median": round(statistics.median(seconds), 4),
        "repeat": args.repeat,
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m balancer.bench dispatch")
    p.add_argument("--hosts", type=int, default=1000)
    p.add_argument("--vms", type=int, default=20000)
    p.add_argument("--moves", type=int, default=200)
    p.add_argument("--waves", type=int, default=4)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--redis", help="use this Redis (flushes its db!) instead of starting one")
    args = p.parse_args(argv)
    if args.redis:
        result = run(args, args.redis)
    else:
        with own_redis() as url:
            result = run(args, url)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0
