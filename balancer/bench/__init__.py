"""Benchmarks: scripts that print JSON (``python -m balancer.bench NAME --help``)."""
