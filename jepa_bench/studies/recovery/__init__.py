"""Recovery from collapse: does the RL gradient pull a collapsed encoder back out?

    jepa-bench recovery --root results/recovery --algos ppo a2c --seeds 0 1 2 3 4 \\
        --collapse-steps 100000 --recovery-steps 50000 \\
        --collapse-threshold 1e-7 --recovery-threshold 1e-5 \\
        --summary results/recovery/summary --figures results/figures --out results/recovery.md

Two modules, data flowing one way:

- ``experiment``: settings, the two training stages' run folders -> tidy tables -> verdicts of
  claims (a), (b), (c) (definitions in its docstring);
- ``report``: the figure, the markdown report and its JSON twin, and ``write_recovery_report``,
  which runs the whole stage.

This package imports no torch; the training stages are `jepa-bench train` runs
(workflow/rules/recovery.smk).
"""

from jepa_bench.studies.recovery.experiment import (RECOVERY_ARMS, CRITERIA, MIN_SEEDS, RecoverySettings,
                                            RecoverySummary, evaluate_recovery, first_crossing,
                                            summarise_recovery)
from jepa_bench.studies.recovery.report import plot_recovery, write_recovery_report
from jepa_bench.analysis.stats import median_time_to_event

__all__ = [
    "RECOVERY_ARMS",
    "CRITERIA",
    "MIN_SEEDS",
    "RecoverySettings",
    "RecoverySummary",
    "evaluate_recovery",
    "first_crossing",
    "median_time_to_event",
    "plot_recovery",
    "summarise_recovery",
    "write_recovery_report",
]
