"""Which lockfile a project uses, and its sha256: the server's node_modules cache key."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from butterbase_edge_deploy.errors import InputError

# Butterbase's own CLI looks in this order; the first one found decides the package manager.
LOCKFILES = (("pnpm-lock.yaml", "pnpm"), ("yarn.lock", "yarn"), ("package-lock.json", "npm"))


@dataclass(frozen=True)
class Lockfile:
    path: Path
    package_manager: str
    sha256: str
    others: list[str] = field(default_factory=list)

    @property
    def is_package_json(self) -> bool:
        return self.path.name == "package.json"


def sha256_of(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def detect(project: Path) -> Lockfile:
    present = [(name, manager) for name, manager in LOCKFILES if (project / name).is_file()]
    if present:
        name, manager = present[0]
        return Lockfile(project / name, manager, sha256_of(project / name), [n for n, _ in present[1:]])
    package_json = project / "package.json"
    if not package_json.is_file():
        raise InputError("working_directory", "has no package.json",
                         "point working_directory at the app's folder (the one with package.json)")
    return Lockfile(package_json, "npm", sha256_of(package_json))
