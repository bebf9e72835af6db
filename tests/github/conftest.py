"""Fixtures for the GitHub integration tests: a fake GitHub API on loopback.

tests/github/ is not on pytest's pythonpath (and `github` is PyGithub's package name), so this
folder is put on sys.path here, and the tests import the fake as `fake_github`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from fake_github import FakeGitHub  # noqa: E402 - needs the path above


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """A fresh fake GitHub for each test; the test fails if any request had a malformed body."""
    with FakeGitHub() as fake:
        yield fake
        assert fake.problems == [], "requests GitHub would reject:\n" + "\n".join(fake.problems)
