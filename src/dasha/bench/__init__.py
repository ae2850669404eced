"""Benchmarks: every method on the same seeded episodes; tables and figures (the paper's Table I, Figs. 3–7)."""
