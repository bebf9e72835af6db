"""requirements.lock, checked offline: what the image installs and how (no network, not e2e)."""

from __future__ import annotations

import re
import tomllib

from container.runner_like import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# requests' own dependencies: imported at run time, so the lock must pin them although pyproject does not.
REQUESTS_DEPENDENCIES = {"idna", "certifi", "charset-normalizer"}


def lock_entries() -> dict[str, tuple[str, list[str]]]:
    text = (ROOT / "requirements.lock").read_text()
    logical = re.sub(r"\\\n", " ", text)
    entries = {}
    for line in logical.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec, *options = line.split()
        name, _, version = spec.partition("==")
        hashes = [option.removeprefix("--hash=sha256:") for option in options]
        assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), line
        entries[canonicalize_name(name)] = (version, hashes)
    return entries


def project_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(spec) for spec in project["dependencies"]]


def test_lock_pins_exactly_what_the_action_imports():
    expected = {canonicalize_name(r.name) for r in project_requirements()} | REQUESTS_DEPENDENCIES
    assert set(lock_entries()) == expected
    assert "pygithub" not in lock_entries()


def test_every_pin_is_exact_hashed_and_inside_pyprojects_range():
    entries = lock_entries()
    for name, (version, hashes) in entries.items():
        assert re.fullmatch(r"[0-9][0-9A-Za-z.+-]*", version), name
        assert hashes, f"{name} has no --hash"
    for requirement in project_requirements():
        version, _ = entries[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version, prereleases=True), f"{requirement.name}=={version}"


def test_pyyaml_pins_both_pythons_and_architectures_plus_the_sdist():
    _, hashes = lock_entries()["pyyaml"]
    text = (ROOT / "requirements.lock").read_text()
    files = re.findall(r"#\s+(pyyaml-\S+)", text)
    assert len(hashes) == len(files) == 5
    for tag in ("cp311-cp311", "cp312-cp312"):
        for arch in ("x86_64", "aarch64"):
            assert any(tag in f and f"manylinux2014_{arch}" in f for f in files), (tag, arch)
    assert any(f.endswith(".tar.gz") for f in files)


def test_dockerfile_installs_the_lock_with_hashes_and_without_dependencies():
    dockerfile = (ROOT / "Dockerfile").read_text()
    install = next(line for line in dockerfile.splitlines() if "pip install" in line)
    for flag in ("--no-deps", "--require-hashes", "--no-cache-dir", "-r /app/requirements.lock"):
        assert flag in install
    assert dockerfile.splitlines()[-1] == 'ENTRYPOINT ["python", "/app/entrypoint.py"]'
