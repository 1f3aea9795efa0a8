"""What every command shares: ``--redis`` (env ``BALANCER_REDIS_URL``), ``--prefix``,
``--json``, ``--clock`` (whose time: Unix or the simulated fleet's); a client on the
store whose errors become one line; and the parameter types that refuse bad input at the
door: ``Finite`` (no NaN, no infinity, within bounds), ``NAME`` (no empty name, no
control characters)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click
import redis

from balancer.cli.text import shown
from balancer.core.validate import CONTROL, name_problem
from balancer.errors import InputError
from balancer.state.connect import DEFAULT_URL, redis_error, redis_from_url
from balancer.state.keys import DEFAULT_PREFIX, Keys

if TYPE_CHECKING:
    from balancer.control.ports import Clock

redis_option = click.option(
    "--redis",
    "redis_url",
    envvar="BALANCER_REDIS_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="Redis URL [env BALANCER_REDIS_URL].",
)
prefix_option = click.option(
    "--prefix", default=DEFAULT_PREFIX, show_default=True, help="Key prefix in Redis."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
clock_option = click.option(
    "--clock",
    type=click.Choice(["system", "fleet"]),
    default="system",
    show_default=True,
    help="Whose time: system (Unix time), or fleet: the simulated fleet's accelerated "
    "clock in the store (balancer fleet sim, balancer demo).",
)


def make_clock(kind: str, client: redis.Redis, keys: Keys) -> Clock:
    """What ``--clock`` names: ``system`` (Unix time) or ``fleet`` (the simulated fleet's
    clock, anchored in the store; ``RetryableError`` while no fleet has started there)."""
    from balancer.daemon.clock import SystemClock  # noqa: PLC0415 - what the choice needs
    from balancer.fleet.clock import FleetClock  # noqa: PLC0415

    if kind == "system":
        return SystemClock()
    return FleetClock.from_redis(client, keys)


@contextmanager
def store_client(url: str) -> Iterator[redis.Redis]:
    """A client on the store at ``url``, closed on the way out; a Redis error inside
    becomes one line (``redis_error``: a missing password exits 2, the rest 1)."""
    client = redis_from_url(url)
    try:
        yield client
    except redis.RedisError as exc:
        raise redis_error(exc, url) from None
    finally:
        client.close()


class Finite(click.ParamType[float, Any]):
    """A finite float within ``[low, high]`` (``low_open``/``high_open``: exclusive):
    ``nan``, ``inf`` and out-of-range values are refused, naming the option."""

    name = "number"

    def __init__(
        self,
        low: float | None = None,
        high: float | None = None,
        *,
        low_open: bool = False,
        high_open: bool = False,
    ) -> None:
        self.low, self.high = low, high
        self.low_open, self.high_open = low_open, high_open

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float) and math.isfinite(value):
            number = value
        else:
            try:
                number = float(str(value))
            except ValueError:
                self.fail(f"{value!r} is not a number", param, ctx)
            if not math.isfinite(number):
                self.fail(f"{value!r} is not a finite number", param, ctx)
        low, high = self.low, self.high
        if low is not None and (number < low or (self.low_open and number == low)):
            self.fail(f"{number:g} is not {'>' if self.low_open else '≥'} {low:g}", param, ctx)
        if high is not None and (number > high or (self.high_open and number == high)):
            self.fail(f"{number:g} is not {'<' if self.high_open else '≤'} {high:g}", param, ctx)
        return number


#: Seconds: positive and finite (at most ten years).
SECONDS = Finite(0, 10 * 365 * 86400.0, low_open=True)


class NameType(click.ParamType[str, Any]):
    """A host, VM or rule name: not empty, not too long, no control characters."""

    name = "name"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        text = str(value)
        problem = name_problem(text)
        if problem is not None:
            self.fail(problem, param, ctx)
        return text


NAME = NameType()


def check_text(text: str, where: str) -> None:
    """Free text an operator gives (a reason, a label): no control characters."""
    bad = CONTROL.search(text)
    if bad is not None:
        raise InputError(f"{shown(text)!r} contains the control character {bad.group()!r}", where)
