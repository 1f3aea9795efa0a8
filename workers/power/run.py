"""Running a power command: an argument list (never a shell string), a timeout, our errors."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence

from balancer.errors import PermanentError, RetryableError

TIMEOUT_S = 60.0


def run(argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=TIMEOUT_S, env=env, check=False
        )
    except FileNotFoundError as exc:
        raise PermanentError(f"{argv[0]} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise RetryableError(f"{argv[0]} timed out after {TIMEOUT_S:.0f}s") from exc
    if done.returncode != 0:
        raise RetryableError(f"{argv[0]} exited {done.returncode}: {done.stderr.strip()[:300]}")
    return done.stdout
