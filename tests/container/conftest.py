"""Fixtures for the container tests: podman set up once, the action's image built once per session."""

from __future__ import annotations

import pytest
from container.runner_like import build_image, podman_env

IMAGE = "localhost/butterbase-edge-deploy:test"


@pytest.fixture(scope="session")
def container_env() -> dict[str, str]:
    """The environment podman needs here (runs scripts/container/setup-podman.sh, cached after once)."""
    return podman_env()


@pytest.fixture(scope="session")
def action_image(container_env: dict[str, str]) -> str:
    """The image built from our Dockerfile, the way the runner builds a Dockerfile action."""
    build_image(container_env, IMAGE)
    return IMAGE
