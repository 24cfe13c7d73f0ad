"""jepa-bench pipeline: train -> aggregate -> plots + claims (the paper's Figure 3, section 3).

    snakemake --cores 2 --workflow-profile workflow/profiles/default       # the paper's 4 x 5
    snakemake --cores all --configfile workflow/config/full-grid.yaml       # 9 x 5
    snakemake --cores 2 --configfile workflow/config/tiny.yaml              # CI smoke run
    snakemake --cores 2 --configfile workflow/config/recovery.yaml          # recovery from collapse
    snakemake --workflow-profile workflow/profiles/slurm                    # on a SLURM cluster

The experiment is in workflow/config/ (checked against workflow/schemas/), machine settings in
workflow/profiles/, one rule file per stage in workflow/rules/.
"""

from snakemake.utils import min_version

min_version("8.0")


configfile: "workflow/config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/plots.smk"
include: "workflow/rules/claims.smk"
include: "workflow/rules/recovery.smk"
include: "workflow/rules/theory.smk"
include: "workflow/rules/calibration.smk"


# quick stages stay on the submitting machine when a cluster executor is used
localrules:
    all,
    aggregate,
    plots,
    claims,
    recovery_report,
    theory,
    calibration_report,


# config `experiments` picks what is built: figure3 (the default) and/or recovery
rule all:
    default_target: True
    input:
        rules.plots.output if "figure3" in config["experiments"] else [],
        rules.claims.output if "figure3" in config["experiments"] else [],
        rules.recovery_report.output if "recovery" in config["experiments"] else [],
        rules.theory.output if "theory" in config["experiments"] else [],
        rules.calibration_report.output if "calibration" in config["experiments"] else [],
