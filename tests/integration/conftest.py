"""Integration fixtures: agents as processes (see agent_processes.py); leaks blamed on the
test that leaked (tests/fixtures/leaks.py)."""

from tests.fixtures.leaks import collect_what_the_test_dropped
from tests.integration.agent_processes import agent_processes

__all__ = ["agent_processes", "collect_what_the_test_dropped"]
