"""``balancer demo`` / ``make demo``: the whole system at work on a simulated fleet, in
a few minutes, with no hardware (docs/operators.md, README).

    scenario.py   the day the demo plays: night, an operator's evacuation, morning
    energy.py     the run's energy, and the same fleet's with every host on (pure)
    summary.py    what happened, from the store's records (moves, power, evacuation)
    view.py       the live terminal view (rich)
    run.py        start everything, play the day, show it, stop everything
"""
