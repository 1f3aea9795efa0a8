"""The simulator: replay a workload trace through the control loop (``balancer.control``:
``run_cycle`` and ``decide``, through in-memory ports), the real planner and a simulated
executor, and measure what the reference measures (docs/evaluation.md).

    workload.py      a trace made into hosts and sized VMs (the ``reference`` set-up)
    initial.py       the first placement: power-aware best-fit decreasing
    observe.py       the snapshot the loop sees at a step (hosts on or off by the plans)
    replay.py        the loop: one ``run_cycle`` a step; ``SimConfig`` and its control
                     settings (``SIM_CONTROL``)
    executor.py      carry a plan out within the interval: pre-copy times, slots, waves,
                     power actions (``SimulatedSink``: the loop's ``PlanSink``)
    account.py       one interval: energy, overloaded and active time, migration losses
    metrics.py       energy, SLATAH, PDM, SLAV, ESV and the rest, over a replay
    placements.py    the --placements-out record of a step
    reference.py     the published figures and the targets
    report.py        a replay as JSON, and beside the reference
    plot.py          one PNG per replay (matplotlib)

The power model (tables, watts, the trapezoid) is ``balancer.control.power``: the cycle
decides by it and the accounting counts by it.
"""
