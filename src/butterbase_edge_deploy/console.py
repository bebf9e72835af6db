"""What the user sees: log lines, warnings, errors, groups and relayed server text.

Two rules hold for every line written here:
- known secrets (the API key, user_env values) are replaced by *** before writing, even where the
  runner would mask them too (the command line has no runner);
- text that could be read as a workflow command (`::name::`, `##[name]`) is written between
  `::stop-commands::` and its token, so relayed server text can never run commands.
"""

from __future__ import annotations

import re
import secrets as _secrets
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TextIO

from actions_toolkit.command import escape_data

_LOOKS_LIKE_COMMAND = re.compile(r"^\s*::|##\[")
_MIN_SECRET_LENGTH = 3


class Console:
    def __init__(self, stream: TextIO | None = None, *, github: bool = False) -> None:
        self._stream = stream or sys.stdout
        self.github = github
        self._secrets: list[str] = []

    # -- secrets --------------------------------------------------------------------------

    def add_secrets(self, values: Iterable[str]) -> None:
        for value in values:
            for part in {value, *value.splitlines()}:
                part = part.strip()
                if len(part) >= _MIN_SECRET_LENGTH and part not in self._secrets:
                    self._secrets.append(part)
                    if self.github:
                        # Registered with the runner too, so that output of other steps is masked.
                        self._raw(f"::add-mask::{escape_data(part)}")
        self._secrets.sort(key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text

    # -- writing --------------------------------------------------------------------------

    def info(self, text: str = "") -> None:
        for line in self.redact(text).split("\n"):
            self._safe(line)

    def relay(self, line: str) -> None:
        """One line of server text (build log, server messages)."""
        self._safe(self.redact(line.replace("\r", "")))

    def warning(self, text: str) -> None:
        text = self.redact(text)
        if self.github:
            self._raw(f"::warning::{escape_data(text)}")
        else:
            self._raw(f"warning: {text}")

    def error(self, text: str) -> None:
        text = self.redact(text)
        if self.github:
            self._raw(f"::error::{escape_data(text)}")
        else:
            self._raw(f"error: {text}")

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        if self.github:
            self._raw(f"::group::{escape_data(self.redact(title))}")
        else:
            self._raw(f"== {self.redact(title)}")
        started = time.monotonic()
        try:
            yield
        finally:
            if self.github:
                self._raw("::endgroup::")
            else:
                self._raw(f"   ({time.monotonic() - started:.1f} s)")

    def _safe(self, line: str) -> None:
        if self.github and _LOOKS_LIKE_COMMAND.search(line):
            token = _secrets.token_hex(16)
            self._raw(f"::stop-commands::{token}\n{line}\n::{token}::")
        else:
            self._raw(line)

    def _raw(self, text: str) -> None:
        self._stream.write(text + "\n")
        self._stream.flush()
