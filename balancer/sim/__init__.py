"""The simulator: replay a workload trace through the control cycle, the real planner and
a simulated executor, and measure what the reference measures (docs/evaluation.md).

    workload.py      a trace made into hosts and sized VMs (the ``reference`` set-up)
    initial.py       the first placement: power-aware best-fit decreasing
    cycle.py         decide(): what the daemon does each interval (pure; the daemon's too)
      cycle_config.py  its knobs, memory and decision
      relief.py        relieve overloaded hosts (plan balance), powering hosts on
      consolidation.py drain hosts when it saves enough power per migration (plan evacuate)
      forecast.py      each VM's demand from its own past
      subset.py        the snapshot a decision hands to plan()
    executor.py      carry a plan out: pre-copy times, slots, waves, the interval's end
    power.py         host power from the tables; the trapezoid
    account.py       one interval: energy, overloaded and active time, migration losses
    metrics.py       energy, SLATAH, PDM, SLAV, ESV and the rest, over a replay
    observe.py       the snapshot the cycle sees at a step
    replay.py        the loop
    placements.py    the --placements-out record of a step
    reference.py     the published figures and the targets
    report.py        a replay as JSON, and beside the reference
    plot.py          one PNG per replay (matplotlib)
"""
