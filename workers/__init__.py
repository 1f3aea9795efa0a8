"""Processes that act on the world: the per-host agent (``workers.agent``), later the
migration workers."""
