"""jepa-bench pipeline: train -> aggregate -> plots + claims (the paper's Figure 3, section 3).

    snakemake --cores 2 --workflow-profile workflow/profiles/default       # the paper's 4 x 5
    snakemake --cores all --configfile workflow/config/full-grid.yaml       # 9 x 5
    snakemake --cores 2 --configfile workflow/config/tiny.yaml              # CI smoke run
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


# quick stages stay on the submitting machine when a cluster executor is used
localrules:
    all,
    aggregate,
    plots,
    claims,


rule all:
    default_target: True
    input:
        rules.plots.output,
        rules.claims.output,
