"""The simulated fleet's shared state in Redis: read it, and change it only through the
atomic scripts of ``balancer.fleet.scripts``.

    sim:config     STRING JSON ``FleetInfo``         sim:trace      STRING float32 CPU %
    sim:hosts      HASH host → JSON ``Host``         sim:vms        HASH VM → JSON ``VmFacts``
    sim:placement  HASH VM → host (the one truth)    sim:host:<h>:vms  SET of its VMs
    sim:vm-state   HASH VM → paused | shutoff        sim:power      HASH host → ``PowerState``
    sim:runs       HASH VM → run text (``runs``)     sim:ended      HASH VM → last run's end
    sim:moves      STREAM of landings                sim:marks      HASH VM → epoch mark
    sim:clock      STRING JSON ``ClockAnchor``

The fleet process, every worker's hypervisor and power driver go through one
``FleetStore``; the fixed facts (config, trace, hosts, VMs) are read once and cached.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping
from typing import Any, cast

import msgspec
import numpy as np
import numpy.typing as npt
import redis

from balancer.core.models import Host
from balancer.errors import InputError, RetryableError
from balancer.fleet import scripts
from balancer.fleet.config import FleetInfo, decode_config, encode_config
from balancer.fleet.facts import VmFacts
from balancer.fleet.load import vm_cores
from balancer.fleet.power import PowerState, decode_power, encode_power
from balancer.fleet.runs import RunView, decode_run, replay
from balancer.state.keys import Keys
from balancer.state.replies import hash_reply

#: Landings kept in the moves stream (approximately); the fleet reads it every round.
MOVES_MAXLEN = 100_000
_ATTEMPTS = 20
_CHUNK = 5_000
_host_decoder = msgspec.json.Decoder(Host)
_vm_decoder = msgspec.json.Decoder(VmFacts)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _bytes(value: Any) -> bytes | None:
    """A reply of a client that does not decode responses: bytes, or ``None``."""
    return None if value is None else cast(bytes, value)


class EndedRun(msgspec.Struct, frozen=True, kw_only=True):
    """How a VM's last simulated migration ended (``Keys.sim_ended``)."""

    id: str
    source: str
    dest: str
    #: landed | aborted | lost (the VM had left its source some other way).
    result: str = ""
    at: float
    error: str | None = None
    elapsed_ms: int = 0
    downtime_ms: int = 0
    bytes: int = 0
    memory_total: int = 0
    zero_bytes: int = 0


class Mark(msgspec.Struct, frozen=True, kw_only=True):
    """The migration that last moved a VM's domain, and its fencing epoch."""

    host: str
    epoch: int | None
    id: str
    plan_id: str = ""
    at: float


#: Largest load multiplier accepted.
MAX_LOAD_SCALE = 100.0


class FleetStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client, self.keys = client, keys
        self._start = client.register_script(scripts.START)
        self._event = client.register_script(scripts.EVENT)
        self._finish = client.register_script(scripts.FINISH)
        self._power_on = client.register_script(scripts.POWER_ON)
        self._power_off = client.register_script(scripts.POWER_OFF)
        self._mark = client.register_script(scripts.MARK)
        self._guest = client.register_script(scripts.GUEST)
        self._booted = client.register_script(scripts.BOOTED)
        self._lock = threading.Lock()
        self._info: FleetInfo | None = None
        self._trace: npt.NDArray[np.float32] | None = None
        self._hosts: dict[str, Host] = {}
        self._vms: dict[str, VmFacts] = {}

    # -- fixed facts (cached) --------------------------------------------------------
    def info(self) -> FleetInfo:
        if self._info is None:
            raw = _bytes(self.client.get(self.keys.sim_config))
            if raw is None:
                raise RetryableError(f"no simulated fleet in the store ({self.keys.sim_config})")
            self._info = decode_config(raw)
        return self._info

    def trace(self) -> npt.NDArray[np.float32]:
        if self._trace is None:
            info = self.info()
            raw = _bytes(self.client.get(self.keys.sim_trace))
            if raw is None:
                raise RetryableError(f"the fleet's trace is missing ({self.keys.sim_trace})")
            matrix = np.frombuffer(raw, dtype="<f4").reshape(info.trace_rows, info.trace_steps)
            self._trace = matrix
        return self._trace

    def host(self, name: str) -> Host | None:
        """A simulated host's fixed facts; ``None`` if the fleet has no such host."""
        with self._lock:
            if name in self._hosts:
                return self._hosts[name]
        raw = self.client.hget(self.keys.sim_hosts, name)
        if raw is None:
            return None
        host = _host_decoder.decode(raw)
        with self._lock:
            self._hosts[name] = host
        return host

    def vm(self, name: str) -> VmFacts | None:
        with self._lock:
            if name in self._vms:
                return self._vms[name]
        raw = self.client.hget(self.keys.sim_vms, name)
        if raw is None:
            return None
        facts = _vm_decoder.decode(raw)
        with self._lock:
            self._vms[name] = facts
        return facts

    def dirty_rate(self, facts: VmFacts, at: float) -> float:
        """What the VM dirties at fleet time ``at`` while it runs (MiB/s)."""
        info = self.info()
        if facts.hot:
            return info.config.hot_factor * info.config.bandwidth_mib_s
        cores = vm_cores(
            self.trace(), info.trace_step_s, info.trace_t0, at,
            facts.row, facts.offset, facts.size_cores, self.load_scale(),
        )  # fmt: skip
        return cores * info.config.dirty_per_core_mib_s

    def load_scale(self) -> float:
        """The multiplier of every VM's trace load (1 unless an operator of the simulation
        set another: ``balancer fleet load --scale``)."""
        raw = self.client.get(self.keys.sim_load_scale)
        try:
            scale = 1.0 if raw is None else float(raw)
        except ValueError:
            return 1.0
        return scale if 0.0 <= scale < math.inf else 1.0

    def set_load_scale(self, scale: float) -> None:
        if not (0.0 <= scale <= MAX_LOAD_SCALE):
            raise InputError(f"must be between 0 and {MAX_LOAD_SCALE:g}, not {scale}", "--scale")
        self.client.set(self.keys.sim_load_scale, repr(float(scale)))

    # -- live state ------------------------------------------------------------------
    def where(self, vm: str) -> str | None:
        raw = self.client.hget(self.keys.sim_placement, vm)
        return None if raw is None else _text(raw)

    def vm_view(self, vm: str) -> tuple[str | None, str, bytes | None]:
        """The VM's host, its guest state (running, paused, shutoff) and its run's text,
        read together."""
        k = self.keys
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hget(k.sim_placement, vm)
            pipe.hget(k.sim_vm_state, vm)
            pipe.hget(k.sim_runs, vm)
            host, state, run = pipe.execute()
        return (None if host is None else _text(host)), _text(state or b"running"), run

    def host_vms(self, host: str) -> tuple[str, ...]:
        return tuple(sorted(_text(v) for v in self.client.smembers(self.keys.sim_host_vms(host))))

    def power(self, host: str) -> PowerState | None:
        raw = self.client.hget(self.keys.sim_power, host)
        return None if raw is None else decode_power(raw)

    def powers(self) -> dict[str, tuple[bytes, PowerState]]:
        """Every host's power state, with its stored text (for ``mark_booted``)."""
        raw = hash_reply(self.client.hgetall(self.keys.sim_power))
        return {_text(h): (v, decode_power(v)) for h, v in raw.items()}

    def powers_of(self, hosts: list[str]) -> list[PowerState | None]:
        """The power states of ``hosts`` now (one round trip)."""
        if not hosts:
            return []
        raw = self.client.hmget(self.keys.sim_power, hosts)
        return [None if v is None else decode_power(v) for v in raw]

    def runs(self) -> dict[str, bytes]:
        return {_text(k): v for k, v in hash_reply(self.client.hgetall(self.keys.sim_runs)).items()}

    def run(self, vm: str) -> bytes | None:
        return _bytes(self.client.hget(self.keys.sim_runs, vm))

    def ended(self, vm: str) -> EndedRun | None:
        raw = self.client.hget(self.keys.sim_ended, vm)
        if raw is None:
            return None
        result, _, body = _text(raw).partition("\n")
        ended = msgspec.json.decode(body, type=EndedRun)
        return msgspec.structs.replace(ended, result=result)

    def paused_vms(self) -> dict[str, str]:
        raw = hash_reply(self.client.hgetall(self.keys.sim_vm_state))
        return {_text(k): _text(v) for k, v in raw.items()}

    def moves_since(self, last_id: str) -> tuple[list[tuple[str, str, str]], str]:
        """Landings after stream id ``last_id``: (vm, source, dest) in order, new last id."""
        entries = self.client.xrange(self.keys.sim_moves, min=f"({last_id}", max="+")
        out = []
        for entry_id, fields in cast(list[tuple[bytes, dict[bytes, bytes]]], entries):
            f = {_text(k): _text(v) for k, v in fields.items()}
            out.append((f["vm"], f["source"], f["dest"]))
            last_id = _text(entry_id)
        return out, last_id

    def mark(self, vm: str) -> Mark | None:
        raw = self.client.hget(self.keys.sim_marks, vm)
        return None if raw is None else msgspec.json.decode(raw, type=Mark)

    # -- atomic changes --------------------------------------------------------------
    def settle(self, vm: str, now: float) -> tuple[str | None, str, RunView | None]:
        """The VM's host, guest state and the migration it is in at ``now``, that
        migration landed (or its abort recorded) first if it has ended by then."""
        for _ in range(_ATTEMPTS):
            where, state, raw = self.vm_view(vm)
            if raw is None:
                return where, state, None
            spec, events = decode_run(raw)
            view = replay(spec, events, now)
            if not view.ended:
                return where, state, view
            self.finish(view, raw)  # 'changed': someone appended or ended it; read again
        raise RetryableError(f"{vm}: its migration kept changing while being read")

    def start_run(
        self, vm: str, source: str, dest: str, text: str, now: float, pause: bool
    ) -> tuple[str, str]:
        k = self.keys
        verdict, detail = self._start(
            keys=[k.sim_runs, k.sim_placement, k.sim_power, k.sim_vm_state],
            args=[vm, source, dest, text, repr(now), "1" if pause else "0"],
        )
        return _text(verdict), _text(detail)

    def add_event(self, vm: str, run_id: str, line: str, guest: str = "") -> bool:
        k = self.keys
        return bool(self._event(keys=[k.sim_runs, k.sim_vm_state], args=[vm, run_id, line, guest]))

    def finish(self, view: RunView, text: bytes) -> str:
        """End the run ``view`` replayed from ``text``: land it or record its abort."""
        s, k = view.spec, self.keys
        assert view.ended_at is not None
        stats = view.completed() if view.landed else None
        ended = EndedRun(
            id=s.id,
            source=s.source,
            dest=s.dest,
            at=view.ended_at,
            error=view.error,
            elapsed_ms=stats.elapsed_ms if stats else 0,
            downtime_ms=stats.downtime_ms if stats else 0,
            bytes=stats.bytes if stats else 0,
            memory_total=stats.memory_total if stats else 0,
            zero_bytes=stats.zero_bytes if stats else 0,
        )
        result = self._finish(
            keys=[k.sim_runs, k.sim_placement, k.sim_host_vms(s.source),
                  k.sim_host_vms(s.dest), k.sim_ended, k.sim_moves, k.sim_vm_state],
            args=[s.vm, text, "1" if view.landed else "0", msgspec.json.encode(ended),
                  s.source, s.dest, view.guest, MOVES_MAXLEN],
        )  # fmt: skip
        return _text(result)

    def set_guest_state(self, vm: str, host: str, state: str) -> bool:
        """Pause (``paused``) or resume (``running``) a guest on ``host`` that is not
        migrating; ``False`` if it is elsewhere or migrating."""
        k = self.keys
        keys = [k.sim_placement, k.sim_vm_state, k.sim_runs]
        return bool(self._guest(keys=keys, args=[vm, host, state]))

    def power_on(self, host: str, now: float, boot_s: float) -> str:
        booting = PowerState(state="booting", since=now, ready_at=now + boot_s)
        return _text(self._power_on(keys=[self.keys.sim_power], args=[host, encode_power(booting)]))

    def power_off(self, host: str, now: float) -> tuple[str, int]:
        k = self.keys
        verdict, count = self._power_off(
            keys=[k.sim_power, k.sim_host_vms(host), k.sim_runs],
            args=[host, encode_power(PowerState(state="off", since=now))],
        )
        return _text(verdict), int(count)

    def mark_booted(self, host: str, stored: bytes, now: float) -> bool:
        on = encode_power(PowerState(state="on", since=now))
        return bool(self._booted(keys=[self.keys.sim_power], args=[host, stored, on]))

    def set_mark(self, vm: str, mark: Mark) -> bool:
        k = self.keys
        args = (vm, mark.host, msgspec.json.encode(mark))
        return bool(self._mark(keys=[k.sim_placement, k.sim_marks], args=args))

    # -- creating and forgetting a fleet ------------------------------------------------
    def write_fleet(
        self,
        info: FleetInfo,
        trace_pct: npt.NDArray[np.float32],
        hosts: Iterable[Host],
        vms: Iterable[VmFacts],
        placement: Mapping[str, str],
        power: Mapping[str, PowerState],
    ) -> None:
        """Store a new fleet (the clock is anchored separately, last)."""
        k = self.keys
        by_host: dict[str, list[str]] = {}
        for vm, host in placement.items():
            by_host.setdefault(host, []).append(vm)
        with self.client.pipeline(transaction=False) as pipe:
            pipe.set(k.sim_config, encode_config(info))
            pipe.set(k.sim_trace, np.ascontiguousarray(trace_pct, dtype="<f4").tobytes())
            _hset_chunks(pipe, k.sim_hosts, ((h.name, msgspec.json.encode(h)) for h in hosts))
            _hset_chunks(pipe, k.sim_vms, ((v.name, msgspec.json.encode(v)) for v in vms))
            _hset_chunks(pipe, k.sim_placement, placement.items())
            _hset_chunks(pipe, k.sim_power, ((h, encode_power(p)) for h, p in power.items()))
            for host, members in by_host.items():
                for i in range(0, len(members), _CHUNK):
                    pipe.sadd(k.sim_host_vms(host), *members[i : i + _CHUNK])
            pipe.execute()
        self._info = None
        self._trace = None

    def forget_fleet(self) -> int:
        """Delete every key of the fleet in the store, and its hosts' reports; the number
        of hosts forgotten."""
        k = self.keys
        names = [_text(h) for h in self.client.hkeys(k.sim_hosts)]
        fixed = [k.sim_clock, k.sim_config, k.sim_trace, k.sim_hosts, k.sim_vms,
                 k.sim_placement, k.sim_vm_state, k.sim_power, k.sim_runs, k.sim_ended,
                 k.sim_moves, k.sim_marks]  # fmt: skip
        with self.client.pipeline(transaction=False) as pipe:
            pipe.delete(*fixed)
            for i in range(0, len(names), _CHUNK):
                chunk = names[i : i + _CHUNK]
                per_host = [
                    key
                    for h in chunk
                    for key in (k.sim_host_vms(h), k.report(h), k.alive(h), k.history(h),
                                k.vm_resident(h))
                ]  # fmt: skip
                pipe.delete(*per_host)
                pipe.srem(k.hosts, *chunk)
            pipe.execute()
        self._info = None
        self._trace = None
        with self._lock:
            self._hosts.clear()
            self._vms.clear()
        return len(names)


def _hset_chunks(pipe: Any, key: str, items: Iterable[tuple[str, bytes | str]]) -> None:
    batch: dict[str, bytes | str] = {}
    for field, value in items:
        batch[field] = value
        if len(batch) >= _CHUNK:
            pipe.hset(key, mapping=batch)
            batch = {}
    if batch:
        pipe.hset(key, mapping=batch)
