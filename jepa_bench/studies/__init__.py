"""The studies built on the harness, each a report over run folders or a numerical check: the
recovery experiment, the theory audit of Yu & Chen, the calibration, the bf16 precision check,
the probe table and the settings table.

Built on jepa_bench.analysis; never imports torch or jepa_bench.rl (held by
tests/unit/test_imports.py). What a study trains goes through `jepa-bench train`, run by the
workflow.
"""
