"""Integration fixtures: agents as processes (see agent_processes.py)."""

from tests.integration.agent_processes import agent_processes

__all__ = ["agent_processes"]
