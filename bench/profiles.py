"""Sizes and repetitions: the full run (`make bench`) and the smoke run (`make bench-smoke`).

The smoke profile runs every code path of every benchmark on tiny inputs, once, in well under a
minute; its numbers mean nothing and are never compared with targets.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class Profile:
    name: str
    # 1. packaging
    prebuilt_files: int
    prebuilt_bytes: int
    source_files: int
    source_bytes: int
    packaging_reps: int
    # 2. lockfile hash
    lockfile_bytes: int
    hash_reps: int
    # 3. upload
    upload_bytes: int
    upload_small_bytes: int  # for the constant-memory check
    upload_reps: int
    # 4. READY detection
    ready_reps: int
    ready_delay: tuple[float, float]  # READY comes this long (seeded random) after the action starts
    # 5. end to end
    e2e_real_reps: int
    e2e_large_reps: int
    recipe_poll_seconds: float
    # 6. start-up
    startup_reps: int
    # 7. scale
    concurrent_deploys: int
    scale_file_counts: tuple[int, ...]
    scale_reps: int


FULL = Profile(
    name="full",
    prebuilt_files=5_000, prebuilt_bytes=100 * MIB, source_files=3_000, source_bytes=30 * MIB, packaging_reps=5,
    lockfile_bytes=200 * MIB, hash_reps=5,
    upload_bytes=100 * MIB, upload_small_bytes=5 * MIB, upload_reps=5,
    ready_reps=9, ready_delay=(1.5, 4.0),
    e2e_real_reps=5, e2e_large_reps=3, recipe_poll_seconds=5.0,
    startup_reps=10,
    concurrent_deploys=50, scale_file_counts=(1_000, 10_000, 50_000), scale_reps=2,
)

SMOKE = Profile(
    name="smoke",
    prebuilt_files=60, prebuilt_bytes=MIB, source_files=40, source_bytes=200_000, packaging_reps=1,
    lockfile_bytes=2 * MIB, hash_reps=1,
    upload_bytes=2 * MIB, upload_small_bytes=256 * 1024, upload_reps=1,
    ready_reps=1, ready_delay=(0.5, 0.5),
    e2e_real_reps=1, e2e_large_reps=1, recipe_poll_seconds=1.0,
    startup_reps=1,
    concurrent_deploys=3, scale_file_counts=(50, 200), scale_reps=1,
)
