"""Shared pytest set-up: the lab fixtures (balancer/lab/pytest_plugin.py) and a real
redis-server (tests/fixtures/redis_server.py)."""

pytest_plugins = ["balancer.lab.pytest_plugin", "tests.fixtures.redis_server"]
