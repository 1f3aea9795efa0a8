"""Where the shared public traces live: ``$KVM_BALANCER_DATA``, else ``../shared/data``
beside the repository (how the developers' machines and CI lay them out)."""

from __future__ import annotations

import os
from pathlib import Path


def shared_data_dir() -> Path:
    env = os.environ.get("KVM_BALANCER_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"
