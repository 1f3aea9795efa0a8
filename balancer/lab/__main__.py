"""``python -m balancer.lab ...`` is ``balancer lab ...``."""

from balancer.lab.cli import lab

lab(prog_name="balancer lab")
