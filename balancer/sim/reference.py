"""The reference experiment's published figures and the issue's targets.

Beloglazov & Buyya 2012 as implemented in CloudSim 3.0.3, rerun on every PlanetLab day
(../shared/data/README.md). Per-day figures exist for 20110303 only; the other days
have the 10-day medians.
"""

from __future__ import annotations

import msgspec

REFERENCE_DAY = "20110303"


class ReferenceRow(msgspec.Struct, frozen=True, kw_only=True):
    policy: str
    #: On 20110303 (``None``: not published).
    energy_kwh: float
    slatah: float | None = None
    slav: float | None = None
    migrations: int | None = None
    #: Medians over the 10 days.
    median_energy_kwh: float | None = None
    median_slatah: float | None = None
    median_slav: float | None = None
    median_migrations: int | None = None


REFERENCE: tuple[ReferenceRow, ...] = (
    ReferenceRow(policy="no power management", energy_kwh=2410.80),
    ReferenceRow(
        policy="DVFS only",
        energy_kwh=764.96,
        slatah=0.0,
        slav=0.0,
        migrations=0,
        median_energy_kwh=764.25,
    ),
    ReferenceRow(
        policy="THR-MMT-0.8",
        energy_kwh=198.08,
        slatah=0.0500,
        slav=3.57e-5,
        migrations=27_728,
        median_energy_kwh=187.59,
        median_slav=3.52e-5,
        median_migrations=26_746,
    ),
    ReferenceRow(
        policy="MAD-MMT-2.5",
        energy_kwh=189.79,
        slatah=0.0509,
        slav=3.57e-5,
        migrations=27_781,
        median_energy_kwh=182.90,
        median_slav=3.47e-5,
        median_migrations=26_360,
    ),
    ReferenceRow(
        policy="LR-MMT-1.2",
        energy_kwh=167.83,
        slatah=0.0572,
        slav=4.32e-5,
        migrations=27_649,
        median_energy_kwh=162.16,
        median_slatah=0.0618,
        median_slav=4.98e-5,
        median_migrations=27_276,
    ),
    ReferenceRow(
        policy="THR-MMT-1.0",
        energy_kwh=168.71,
        slatah=0.1568,
        slav=29.15e-5,
        migrations=47_987,
    ),
)

#: The row the targets are set against (best energy of the reference).
BEST = REFERENCE[4]


class DayTargets(msgspec.Struct, frozen=True, kw_only=True):
    """The issue's bar for 20110303: all at once."""

    energy_kwh: float = BEST.energy_kwh
    slatah: float = 0.0572
    slav: float = 4.32e-5
    migrations: int = 2_764  # 10 % of 27,649


class MedianTargets(msgspec.Struct, frozen=True, kw_only=True):
    """The issue's bar for the medians over the 10 days."""

    energy_kwh: float = 162.16
    slatah: float = 0.0618
    slav: float = 4.98e-5
    migrations: int = 2_728
