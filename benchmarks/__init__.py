"""Benchmark scripts: each starts its own stack, runs its baselines in the same run, and
prints a table and writes JSON under benchmarks/results/."""
