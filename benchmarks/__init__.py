"""Benchmark scripts: they print figures to read against the targets, and assert nothing."""
