"""A parser of the runner's workflow-command syntax, used to check that relayed text runs nothing.

Follows the runner's rules: `::name props::data` at the start of a (trimmed) line, the legacy
`##[name props]data` anywhere in a line, and `::stop-commands::TOKEN` ... `::TOKEN::` blocks in
which nothing is a command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_V2 = re.compile(r"^::([A-Za-z-]+)([^:]*)::(.*)$")
_LEGACY = re.compile(r"##\[([A-Za-z-]+)([^\]]*)\](.*)$")


@dataclass(frozen=True)
class Command:
    name: str
    properties: str
    data: str


def parse(output: str) -> list[Command]:
    commands: list[Command] = []
    stop_token: str | None = None
    for raw in output.splitlines():
        line = raw.strip()
        if stop_token is not None:
            if line == f"::{stop_token}::":
                stop_token = None
            continue
        match = _V2.match(line)
        if match is None:
            match = _LEGACY.search(raw)
        if match is None:
            continue
        command = Command(match.group(1), match.group(2).strip(), match.group(3))
        if command.name == "stop-commands":
            stop_token = command.data
            continue
        commands.append(command)
    return commands
