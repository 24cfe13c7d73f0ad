"""Recovery from collapse: does the RL gradient pull a collapsed encoder back out?

    jepa-bench recovery --root results/recovery --algos ppo a2c --seeds 0 1 2 3 4 \\
        --collapse-steps 100000 --recovery-steps 50000 \\
        --collapse-threshold 1e-7 --recovery-threshold 1e-5 \\
        --summary results/recovery/summary --figures results/figures --out results/recovery.md

Two experiments with the same kind of run folders, four modules, data flowing one way:

- ``experiment``: settings, the two training stages' run folders -> tidy tables -> verdicts of
  claims (a), (b), (c) of docs/recovery.md (definitions in its docstring);
- ``report``: the figure, the markdown report and its JSON twin, and ``write_recovery_report``,
  which runs the whole stage;
- ``shared``: a collapse that happens (docs/yu-chen-protocol.md, part 2): the shared target
  collapsed by a scale-free line, which seeds collapsed (the workflow's checkpoint), the frozen
  probe at the switch and at the end, the protocol's verdicts (a), (b), (c);
- ``shared_report``: its figure and report, ``write_shared_report`` (`jepa-bench
  recovery-shared`).

This package imports no torch; the training stages are `jepa-bench train` runs
(workflow/rules/recovery.smk, workflow/rules/recovery_shared.smk).
"""

from jepa_bench.studies.recovery.experiment import (RECOVERY_ARMS, CRITERIA, MIN_SEEDS, RecoverySettings,
                                            RecoverySummary, evaluate_recovery, first_crossing,
                                            summarise_recovery)
from jepa_bench.studies.recovery.report import plot_recovery, write_recovery_report
from jepa_bench.studies.recovery.shared import (PROTOCOL, collapse_outcome, evaluate_shared,
                                                switch_wildcards)
from jepa_bench.studies.recovery.shared_report import write_shared_report
from jepa_bench.analysis.stats import median_time_to_event

__all__ = [
    "PROTOCOL",
    "RECOVERY_ARMS",
    "CRITERIA",
    "MIN_SEEDS",
    "RecoverySettings",
    "RecoverySummary",
    "collapse_outcome",
    "evaluate_recovery",
    "evaluate_shared",
    "first_crossing",
    "median_time_to_event",
    "plot_recovery",
    "summarise_recovery",
    "switch_wildcards",
    "write_recovery_report",
    "write_shared_report",
]
