"""`make reliability`: run the hardening suites and write their figures into docs/RELIABILITY.md.

The figures section of that file is generated between two markers; everything else is prose.
"""

from __future__ import annotations

import datetime
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "RELIABILITY.md"
BEGIN, END = "<!-- figures:begin -->", "<!-- figures:end -->"
SUITES = {
    "Fault matrix (emulator fault injection, quirk mode)": ["tests/action/test_faults.py"],
    "Bad input rejected cleanly, before any request": ["tests/action/test_bad_input.py",
                                                      "tests/unit/test_settings.py"],
    "Unusual but valid input": ["tests/action/test_unusual_input.py"],
    "Security (command injection, forged outputs, canaries, key destination)": [
        "tests/action/test_security.py", "tests/unit/test_console.py"],
    "HTTP error mapping and retries": ["tests/unit/test_api_errors.py"],
    "Packaging rules (symlinks, names, limits)": ["tests/unit/test_packaging.py"],
}


def run_suite(paths: list[str]) -> Counter[str]:
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "junit.xml"
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                        *paths], cwd=ROOT, check=False)
        counts: Counter[str] = Counter()
        for case in ElementTree.parse(report).iter("testcase"):
            outcome = "passed"
            for child in case:
                if child.tag in ("failure", "error"):
                    outcome = "failed"
                elif child.tag == "skipped":
                    outcome = "skipped"
            counts[outcome] += 1
        return counts


def main() -> int:
    rows = []
    total: Counter[str] = Counter()
    for name, paths in SUITES.items():
        counts = run_suite(paths)
        total.update(counts)
        rows.append(f"| {name} | {sum(counts.values())} | {counts['passed']} | {counts['failed']} | "
                    f"{counts['skipped']} |")
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    figures = "\n".join([
        BEGIN,
        f"Latest run: {stamp}, `make reliability` (Python {sys.version.split()[0]}).",
        "",
        "| Suite | Cases | Passed | Failed | Skipped |",
        "|---|---|---|---|---|",
        *rows,
        f"| **All** | **{sum(total.values())}** | **{total['passed']}** | **{total['failed']}** | "
        f"**{total['skipped']}** |",
        "",
        f"Leaks found: {0 if total['failed'] == 0 else 'see failures'} "
        "(the canary and key-destination cases are part of the security suite).",
        END,
    ])
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    DOC.write_text(text[:start] + figures + text[end:], encoding="utf-8")
    print(figures)
    return 0 if total["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
