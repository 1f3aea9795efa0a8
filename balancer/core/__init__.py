"""The pure placement core: a snapshot and a policy in, a plan out; no I/O.

Entry point: ``balancer.core.planner.plan``. Nothing under this package imports a
module that does I/O (tests/unit/core/test_purity.py enforces it).
"""
