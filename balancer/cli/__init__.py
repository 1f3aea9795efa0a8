"""The ``balancer`` command line."""
