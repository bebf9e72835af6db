"""Benchmarks of the deploy action against the tools a user would otherwise script (`make bench`).

Not a test suite: timings are reported, never asserted. See docs/PERFORMANCE.md.
"""
