"""The simulated fleet (``balancer fleet sim``): N simulated KVM hosts in one process,
publishing agent reports into the store, their state shared through Redis with the
workers that migrate their VMs and power them (docs/fleet.md)."""
