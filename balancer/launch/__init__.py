"""Starting the whole system on one machine, for the demo, the daemon benchmark and the
whole-system tests: a private redis-server, the simulated fleet, Celery workers on the
simulated hypervisor and daemons, each a real process with its own log, all stopped on
the way out (also on Ctrl-C)."""
