"""``python -m balancer.bench NAME [options]``: run one benchmark, print its JSON."""

from __future__ import annotations

import importlib
import sys

#: Benchmark name -> module with ``main(argv: list[str]) -> int``.
BENCHMARKS = {
    "placement": "balancer.bench.placement",
    "migrate": "balancer.bench.migrate",
    "ingest": "balancer.bench.ingest",
    "agent-cost": "balancer.bench.agent_cost",
    "sim": "balancer.bench.sim",
    "dispatch": "balancer.bench.dispatch",
    "fleet": "balancer.bench.fleet",
    "daemon": "balancer.bench.daemon",
    "decide": "balancer.bench.decide",
    "render": "balancer.bench.render",
    "exporter": "balancer.bench.exporter",
    "distrust": "balancer.bench.distrust",
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in BENCHMARKS:
        names = ", ".join(sorted(BENCHMARKS))
        print(f"usage: python -m balancer.bench {{{names}}} [options]", file=sys.stderr)
        return 2
    module = importlib.import_module(BENCHMARKS[argv[0]])
    code: int = module.main(argv[1:])
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
