"""Redis ACL users of kvm-balancer: one per host agent and one per role (reader,
operator, dispatcher, worker, daemon), each printed as an ``ACL SETUSER`` line that
redis-cli accepts as it is (``balancer acl agent HOST``, ``balancer acl roles``;
docs/security.md)."""
