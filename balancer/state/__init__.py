"""The Redis state store (key schema v1, docs/state-schema.md).

Agents write reports (``publish``), operators write facts (``operator``), and
``snapshot_from_redis`` reads one consistent snapshot (``snapshot_read``, built by the
pure ``assemble``). ``connect`` makes clients from URLs without ever logging a password.
"""
