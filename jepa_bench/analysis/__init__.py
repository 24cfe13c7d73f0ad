"""The analysis side: statistics, verdict words, the aggregate of run folders into tidy tables,
the figures, the claims of Kenneweg et al. and the comparison of two run folders.

Reads run folders through jepa_bench.layout and jepa_bench.metrics; never imports torch or
jepa_bench.rl (tests/unit/test_imports.py holds it to that), so every report stage stays light.
"""
