"""The test guest's kernel and initramfs, built by ``deploy/lab/build-guest.sh``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from balancer.lab.errors import LabUnavailableError
from balancer.lab.paths import cache_dir

SETUP_HINT = "run `sudo make lab-setup` (or `sudo bash deploy/lab/setup.sh`)"


@dataclass(frozen=True)
class GuestArtifacts:
    kernel: Path
    initrd: Path
    kernel_package: str

    @property
    def disk_initrd(self) -> Path:
        """The initramfs of the disk-checking guest (``rdinit=/disk-init``)."""
        path = self.initrd.with_name("initramfs-disk.cpio")
        if not path.is_file():
            raise LabUnavailableError(f"{path} is missing: {SETUP_HINT}")
        return path

    @classmethod
    def from_cache(cls, cache: Path | None = None) -> GuestArtifacts:
        manifest = (cache or cache_dir()) / "guest" / "manifest.json"
        try:
            data = json.loads(manifest.read_text())
            found = cls(Path(data["kernel"]), Path(data["initrd"]), data["kernel_package"])
        except (OSError, ValueError, KeyError) as exc:
            raise LabUnavailableError(f"no lab guest build at {manifest}: {SETUP_HINT}") from exc
        for path in (found.kernel, found.initrd):
            if not path.is_file():
                raise LabUnavailableError(f"{path} is missing: {SETUP_HINT}")
        return found
