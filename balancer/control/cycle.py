"""The control cycle: what kvm-balancer does this interval, decided from what is known now.

``decide(situation, memory, settings) -> Decision`` is pure: the snapshot, each VM's
past samples, the VMs under way, the operators' intents and what the cycle remembers go
in; one complete plan (moves and power actions, waves under the slot limits, every
reason an enum) and the new memory come out. The simulator and the daemon call it the
same way (through ``balancer.control.loop.run_cycle``).

The intents, by priority; each works on the hosts the ones above left alone (but for
one exception: energy saving picks the hosts it drains and keeps before relief and
balance pick destinations, so that no VM lands on a host being drained and moves twice;
the overloaded hosts are reserved for relief first):

1. **Evacuation** (``evacuation``): hosts in maintenance or draining, and hosts named by a
   running evacuation, are emptied. When paused, nothing else runs.
2. **Capacity** (``capacity``): off hosts are powered on before the active hosts run out
   of headroom by forecast.
3. **Relief** (``relief``): hosts over ``relieve_above`` are brought down to
   ``relieve_to``, powering on the most efficient off hosts if need be.
4. **Balance** (``balance``): when the CPU spread is over ``balance_above``.
5. **Energy saving** (``consolidation``, ``replacement``, ``idle``), when enabled and
   when relief can bring every overloaded host under its line (energy saving never takes
   away capacity that relief is short of):
   consolidate at most every ``consolidate_every_s`` (at the next cycle again after a
   consolidation that moved VMs, so a spread fleet packs within an hour or two; until a
   consolidation first finds nothing worth doing the cycle packs by the demand now, the
   measure of the initial placement); when no drain is worth it, replace inefficient
   hosts by efficient off ones; power idle hosts off. Drained hosts are powered off in
   the same plan, once their last VM has left.

Hosts of cancelled evacuations (``Intents.held_hosts``) neither give nor take; busy VMs
never move; VMs in cool-down move only to evacuate. Power actions obey the power rules
(``balancer.control.power_rules``), whose bookkeeping lives in the memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from balancer.control import power_rules
from balancer.control.balance import balance
from balancer.control.capacity import power_on_for_capacity
from balancer.control.consolidation import consolidate
from balancer.control.evacuation import evacuate, evacuating
from balancer.control.figures import Figures, figures
from balancer.control.forecast import FORECASTERS
from balancer.control.hosts import EPS
from balancer.control.idle import power_off_idle
from balancer.control.memory import CycleMemory
from balancer.control.proposal import Proposal
from balancer.control.relief import overloaded, relieve
from balancer.control.replacement import replace as replace_hosts
from balancer.control.scope import Scope
from balancer.control.settings import ControlSettings
from balancer.control.situation import FloatArray, Situation
from balancer.core.compose import Switch, compose, composition_policy
from balancer.core.models import Policy
from balancer.core.plan import Plan

#: The intents, highest priority first (``Decision.intents`` is in this order).
PRIORITY = (
    "evacuation",
    "capacity",
    "relief",
    "balance",
    "consolidation",
    "replacement",
    "idle",
)
#: The objective a composed plan's summary names, by its top intent.
_OBJECTIVE = {"evacuation": "evacuate", "relief": "balance", "balance": "balance"}


@dataclass(frozen=True)
class Decision:
    #: One complete plan (no moves and no power actions: nothing to do).
    plan: Plan
    memory: CycleMemory
    #: The intents that acted, highest priority first.
    intents: tuple[str, ...]
    #: One line, for humans.
    summary: str
    #: ``plan()`` calls made to reach the decision (taken or not).
    plans_computed: int
    #: The policy the plan was composed under and verifies under (no headroom: each
    #: intent kept its own; the snapshot policy's slots).
    policy: Policy
    figures: Figures


def decide(situation: Situation, memory: CycleMemory, settings: ControlSettings) -> Decision:
    snapshot = situation.snapshot
    now = snapshot.taken_at
    memory = power_rules.advance(memory, snapshot, settings)
    intents = situation.intents
    scope = Scope.start(
        snapshot,
        situation.history,
        situation.step_s,
        settings,
        memory,
        busy=situation.busy,
        held=intents.held_hosts(),
    )
    proposals: list[Proposal] = []

    def take(proposal: Proposal | None) -> Scope:
        nonlocal scope
        if proposal is not None and not proposal.empty:
            proposals.append(proposal)
            scope = scope.claim(proposal)
        return scope

    computed = 0
    blocked: tuple[Proposal, ...] = ()
    leaving = evacuating(scope, intents)
    if leaving:
        evac = evacuate(scope, leaving)
        computed += evac.plans_computed
        take(evac)
        if evac.empty and evac.unmovable:
            # Nothing can leave: the plan still says why (status, plan, evacuate --wait).
            blocked = (evac,)
    if intents.paused is None:
        scope, memory, tried = _below_evacuation(scope, situation, memory, take)
        computed += tried
    proposals.sort(key=lambda p: PRIORITY.index(p.intent))
    moves = [c for p in proposals for c in p.moves]
    switches = [s for p in proposals for s in p.power]
    unmovable = {u.vm: u for p in (*blocked, *proposals) for u in p.unmovable}
    top = proposals[0].intent if proposals else ""
    result = compose(
        snapshot,
        snapshot.policy,
        moves,
        switches,
        sorted(unmovable.values(), key=lambda u: u.vm),
        objective=_OBJECTIVE.get(top, "consolidate" if top else "balance"),
        arrays=scope.arrays,
    )
    done = [Switch(a.host, a.action, a.reason, a.detail) for a in result.power]
    memory = power_rules.record(memory, done, now, settings)
    summary = "; ".join(p.summary for p in (*blocked, *proposals) if p.summary) or "nothing to do"
    if intents.paused is not None:
        summary = f"paused: {summary}" if proposals else "paused"
    return Decision(
        plan=result,
        memory=memory,
        intents=tuple(p.intent for p in proposals),
        summary=summary,
        plans_computed=computed,
        policy=composition_policy(snapshot.policy),
        figures=figures(snapshot, scope.arrays),
    )


def _below_evacuation(
    scope: Scope,
    situation: Situation,
    memory: CycleMemory,
    take: Callable[[Proposal | None], Scope],
) -> tuple[Scope, CycleMemory, int]:
    """Capacity, relief, balance and energy saving, in the scope the evacuation left;
    the scope they leave, the memory and the ``plan()`` calls made."""
    settings = scope.settings
    computed = 0
    window = settings.samples(settings.forecast_window_s, situation.step_s)
    demand = FORECASTERS[settings.forecast](situation.history, window, settings.forecast_quantile)
    budget = settings.max_power_on
    capacity = power_on_for_capacity(scope, demand, budget)
    scope = take(capacity)
    budget -= 0 if capacity is None else len(capacity.power)
    over = overloaded(scope)
    # Relief first on the cycle's view: energy saving takes no capacity from a cycle
    # whose relief cannot bring every overloaded host under the line.
    relief = relieve(scope, over, budget) if over else None
    computed += 0 if relief is None else relief.plans_computed
    saving = settings.energy_saving and (relief is None or relief.shortfall <= EPS)
    if saving:
        # The overloaded hosts are relief's; energy saving picks the hosts it drains and
        # keeps before relief picks destinations, so that no VM lands on a host being
        # drained (it would move twice).
        saved, memory, tried = _save_energy(scope.reserve(over), memory, window, demand)
        computed += tried
        scope = take(saved)
        if saved is not None and not saved.empty and relief is not None:
            relief = relieve(scope, over, budget)  # on the hosts the drain left
            computed += relief.plans_computed
    scope = take(relief)
    balanced = balance(scope)
    computed += 0 if balanced is None else balanced.plans_computed
    scope = take(balanced)
    if saving:
        scope = take(power_off_idle(scope, demand))
    return scope, memory, computed


def _save_energy(
    scope: Scope, memory: CycleMemory, window: int, forecast: FloatArray
) -> tuple[Proposal | None, CycleMemory, int]:
    """Consolidation, or else a replacement, when due; the memory; ``plan()`` calls."""
    settings = scope.settings
    now = scope.now
    last = memory.last_consolidation_at
    due = last is None or now - last >= settings.consolidate_every_s
    if not (due or memory.packing):
        return None, memory, 0
    name = settings.forecast if memory.settled else "last"
    history: FloatArray = scope.history
    demand = (
        forecast
        if name == settings.forecast
        else FORECASTERS[name](history, window, settings.forecast_quantile)
    )
    packed = consolidate(scope, demand)
    tried = packed.plans
    if packed.proposal is not None:
        return packed.proposal, replace_memory(memory, now, packing=True), tried
    memory = msgspec.structs.replace(
        memory,
        packing=False,
        settled=True,
        last_consolidation_at=now if packed.tried else memory.last_consolidation_at,
    )
    # A replacement redoes the initial placement: by the demand now.
    swap = replace_hosts(scope, history[:, -1])
    if swap is None:
        return None, memory, tried
    return swap, replace_memory(memory, now, packing=True), tried + 1


def replace_memory(memory: CycleMemory, now: float, *, packing: bool) -> CycleMemory:
    return msgspec.structs.replace(memory, last_consolidation_at=now, packing=packing)
