"""What a run found out, filled in as it goes, so outputs and summary can be written at any point."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunReport:
    app_id: str = ""
    flow: str = ""
    framework: str = ""
    deployment_id: str = ""
    build_id: str = ""
    status: str = ""
    url: str = ""
    lockfile: str = ""
    lockfile_hash: str = ""
    cache_restored: bool | None = None
    file_count: int | None = None
    zip_bytes: int | None = None
    uncompressed_bytes: int | None = None
    worker_bytes: int | None = None
    error: str = ""
    fix: str = ""
    deployments: list[dict[str, Any]] | None = None
    stages: dict[str, float] = field(default_factory=dict)
    log_tail: list[str] = field(default_factory=list)

    def outputs(self) -> dict[str, str]:
        values = {
            "url": self.url,
            "deployment_id": self.deployment_id,
            "status": self.status,
            "build_id": self.build_id,
            "lockfile_hash": self.lockfile_hash,
            "deployments": json.dumps(self.deployments, separators=(",", ":")) if self.deployments is not None else "",
        }
        # Server-supplied values end up here; one line each, so no value can forge another output.
        return {name: " ".join(str(value).split()) for name, value in values.items()}
