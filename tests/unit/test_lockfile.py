import hashlib
import subprocess
from pathlib import Path

import pytest

from butterbase_edge_deploy import lockfile
from butterbase_edge_deploy.errors import InputError


@pytest.mark.parametrize(
    ("files", "chosen", "manager", "others"),
    [
        (["package-lock.json"], "package-lock.json", "npm", []),
        (["yarn.lock"], "yarn.lock", "yarn", []),
        (["pnpm-lock.yaml"], "pnpm-lock.yaml", "pnpm", []),
        (["package-lock.json", "yarn.lock", "pnpm-lock.yaml"], "pnpm-lock.yaml", "pnpm",
         ["yarn.lock", "package-lock.json"]),
        (["package-lock.json", "yarn.lock"], "yarn.lock", "yarn", ["package-lock.json"]),
    ],
)
def test_precedence_matches_the_butterbase_cli(tmp_path: Path, files, chosen, manager, others) -> None:
    (tmp_path / "package.json").write_text("{}")
    for name in files:
        (tmp_path / name).write_text(f"lock {name}\n")
    found = lockfile.detect(tmp_path)
    assert (found.path.name, found.package_manager, found.others) == (chosen, manager, others)


def test_hash_is_what_sha256sum_prints(tmp_path: Path) -> None:
    lock = tmp_path / "package-lock.json"
    lock.write_bytes(b'{"lockfileVersion": 3}\r\n' * 1000)
    (tmp_path / "package.json").write_text("{}")
    expected = subprocess.run(["sha256sum", str(lock)], capture_output=True, text=True, check=True).stdout.split()[0]
    assert lockfile.detect(tmp_path).sha256 == expected == hashlib.sha256(lock.read_bytes()).hexdigest()


def test_no_lockfile_hashes_package_json(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"name":"x"}')
    found = lockfile.detect(tmp_path)
    assert found.is_package_json and found.package_manager == "npm"
    assert found.sha256 == hashlib.sha256(b'{"name":"x"}').hexdigest()


def test_no_package_json_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"package\.json"):
        lockfile.detect(tmp_path)
