"""The Celery settings a migration queue needs, and the plan → waves workflow."""

from __future__ import annotations

from balancer.core.plan import MoveReason, PowerReason
from workers import tasks
from workers.celery_app import (
    DEFAULT_VISIBILITY_TIMEOUT_S,
    PRIORITY,
    app,
    make_app,
    move_priority,
    power_priority,
)
from workers.executor.order import LadderConfig


def test_migration_queue_settings() -> None:
    app = make_app("redis://127.0.0.1:1/0", visibility_timeout_s=9000)
    try:
        c = app.conf
        assert c.task_serializer == "json"
        assert c.result_serializer == "json"
        assert c.accept_content == ["json"]
        assert c.result_accept_content == ["json"]
        assert c.task_acks_late is True
        assert c.task_reject_on_worker_lost is True
        assert c.worker_prefetch_multiplier == 1
        opts = c.broker_transport_options
        assert opts["visibility_timeout"] == 9000
        assert opts["queue_order_strategy"] == "priority"
        assert PRIORITY["evacuate"] < PRIORITY["power-on"] < PRIORITY["balance"]
        assert PRIORITY["balance"] < PRIORITY["energy"]
        assert c.include == ["workers.tasks"]
    finally:
        app.close()


def test_visibility_timeout_exceeds_the_default_completion_timeout() -> None:
    # The largest guest the default ladder lets run (16 GiB) still fits.
    assert LadderConfig().timeout_s(16 * 1024) < DEFAULT_VISIBILITY_TIMEOUT_S


def test_tasks_are_registered_under_stable_names() -> None:
    assert tasks.migrate.name == "balancer.migrate"
    names = {"balancer.migrate", "balancer.power_on", "balancer.power_off", "balancer.wave_done"}
    assert names <= set(app.tasks)
    assert "balancer.execute_plan" not in app.tasks  # a plan is sent as orders, never whole


def test_priorities_follow_the_reasons() -> None:
    """Evacuation first, power-on for capacity, relief, balance, then energy saving."""
    order = [
        move_priority(MoveReason.EVACUATION),
        power_priority("on", PowerReason.CAPACITY),
        move_priority(MoveReason.RELIEF),
        move_priority(MoveReason.BALANCE),
        move_priority(MoveReason.CONSOLIDATION),
    ]
    assert order == sorted(order)
    assert len(set(order)) == len(order)
    assert move_priority(MoveReason.REPLACEMENT) == move_priority(MoveReason.CONSOLIDATION)
    assert power_priority("off", PowerReason.IDLE) == move_priority(MoveReason.CONSOLIDATION)
    assert power_priority("on", PowerReason.EVACUATION) == move_priority(MoveReason.EVACUATION)
    assert all(0 <= move_priority(r) <= 9 for r in MoveReason)
