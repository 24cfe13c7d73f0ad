"""jepa-bench pipeline: train -> aggregate -> plots + claims (the paper's Figure 3, section 3).

    snakemake -c2                                                 # the paper's 4 configurations x 5 seeds
    snakemake -c2 --configfile workflow/config/full-grid.yaml     # 11 configurations x 5 seeds = 55 runs
    snakemake -c2 --configfile workflow/config/tiny.yaml          # smoke run: 2 x 2 x 512 steps
    snakemake -c2 --configfile workflow/config/a2c-grid.yaml      # Yu & Chen's A2C configurations
    snakemake -c2 --configfile workflow/config/recovery.yaml      # recovery from collapse
    snakemake -c2 --configfile workflow/config/recovery-shared.yaml   # a collapse that happens
    snakemake -c2 --configfile workflow/config/precision.yaml     # bf16 against float32
    snakemake -c2 --configfile workflow/config/sensitivity.yaml   # the preregistered sweep
    snakemake --workflow-profile workflow/profiles/slurm          # on a SLURM cluster

The experiment is in workflow/config/ (checked against workflow/schemas/); one results folder
holds one experiment ({results_root}/experiment.json: a different config is refused there, so
give it --config results_root=...). Machine settings are in workflow/profiles/; the default one
is loaded without being named (profiles/default links to it), so a killed pipeline continues
when the same command is run again. One rule file per stage in workflow/rules/.
"""

from snakemake.utils import min_version

min_version("8.0")


configfile: "workflow/config/config.yaml"


# what `snakemake --report` says about the workflow (captions of each result: workflow/report/)
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/plots.smk"
include: "workflow/rules/claims.smk"
include: "workflow/rules/recovery.smk"
include: "workflow/rules/recovery_shared.smk"
include: "workflow/rules/theory.smk"
include: "workflow/rules/calibration.smk"
include: "workflow/rules/probe.smk"
include: "workflow/rules/settings.smk"
include: "workflow/rules/precision.smk"
include: "workflow/rules/sensitivity.smk"
include: "workflow/rules/trained_encoders.smk"
include: "workflow/rules/yu_chen.smk"


# quick stages stay on the submitting machine when a cluster executor is used
localrules:
    all,
    aggregate,
    plots,
    claims,
    recovery_report,
    recovery_shared_outcome,
    recovery_shared_report,
    theory,
    calibration_report,
    calibration_winner,
    probe_table,
    settings_table,
    precision_aggregate,
    precision_report,
    sensitivity_aggregate,
    sensitivity_claims,
    sensitivity_plots,
    sensitivity_report,
    sensitivity_trained_encoders,
    trained_encoders,
    yu_chen,


# config `experiments` picks what is built: figure3 (the default), curves, recovery, ...
rule all:
    default_target: True
    input:
        rules.plots.output if {"figure3", "curves"} & set(config["experiments"]) else [],
        rules.claims.output if "figure3" in config["experiments"] else [],
        rules.recovery_report.output if "recovery" in config["experiments"] else [],
        rules.recovery_shared_report.output if "recovery_shared" in config["experiments"] else [],
        rules.theory.output if "theory" in config["experiments"] else [],
        rules.calibration_report.output if "calibration" in config["experiments"] else [],
        rules.probe_table.output if "probe" in config["experiments"] else [],
        rules.settings_table.output if "settings" in config["experiments"] else [],
        rules.precision_report.output if "precision" in config["experiments"] else [],
        rules.sensitivity_report.output if "sensitivity" in config["experiments"] else [],
        rules.sensitivity_trained_encoders.output if "sensitivity" in config["experiments"] else [],
        rules.trained_encoders.output if "trained_encoders" in config["experiments"] else [],
        rules.yu_chen.output if "yu_chen" in config["experiments"] else [],
