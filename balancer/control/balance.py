"""Balance: when the CPU-utilization spread over the open active hosts is above
``balance_above``, ``plan(balance)`` on them (the snapshot policy's headroom, the
settings' move cost: a move must cut the spread by enough per second it takes; at most
``max_moves`` migrations a cycle, what the executor finishes in an interval)."""

from __future__ import annotations

import msgspec
import numpy as np

from balancer.control.hosts import util
from balancer.control.proposal import Proposal
from balancer.control.scope import Scope
from balancer.control.subset import restrict
from balancer.core.planner import plan


def cpu_spread(scope: Scope) -> float:
    """Standard deviation of CPU utilization over the open active hosts."""
    on = scope.active()
    return float(np.std([util(h) for h in on])) if on else 0.0


def balance(scope: Scope) -> Proposal | None:
    line = scope.settings.balance_above
    if line is None:
        return None
    spread = cpu_spread(scope)
    if spread <= line:
        return None
    view = restrict(scope.snapshot, [h.name for h in scope.active()])
    policy = msgspec.structs.replace(
        view.policy,
        objective="balance",
        move_cost_per_s=scope.settings.balance_move_cost_per_s,
        max_migrations=scope.settings.max_moves,
    )
    result = plan(msgspec.structs.replace(view, policy=policy), fixed=scope.fixed)
    if not result.moves:
        return None
    after = result.summary.spread_after.cpu
    summary = f"balance: CPU spread {spread:.2f} → {after:.2f}, {len(result.moves)} move(s)"
    return Proposal.of_plan("balance", result, summary, 1)
