# Tidy summary tables over all runs (jepa_bench.analysis.aggregate.summarise; columns in its docstring).
# The renderer and overrides are the train rule's: a run folder made with other settings (say,
# under a runs_root shared with another preset) stops the aggregate with a one-line error.

from jepa_bench.analysis.aggregate import SUMMARY_FILES
from jepa_bench.layout import runs_root_of

# the summary of one set of run folders; precision.smk aggregates each of its arms with it
AGGREGATE_SHELL = (
    "jepa-bench aggregate --runs-root {params.runs_root}"
    " --configs {params.configurations} --seeds {params.seeds}"
    " --total-steps {params.total_steps} --renderer {params.renderer}"
    " --settings {params.settings} {params.overrides}"
    " --out {params.out_dir} > {log} 2>&1"
)


rule aggregate:
    input:
        runs=expand(rules.train.output.run, configuration=CONFIGURATIONS, seed=SEEDS),
        metrics=expand(rules.train.output.metrics, configuration=CONFIGURATIONS, seed=SEEDS),
        episodes=expand(rules.train.output.episodes, configuration=CONFIGURATIONS, seed=SEEDS),
    output:
        **{key: f"{SUMMARY}/{name}" for key, name in SUMMARY_FILES.items()},
    log:
        f"{LOGS}/aggregate.log",
    params:
        runs_root=lambda wildcards, input: runs_root_of(input.runs[0]),
        out_dir=lambda wildcards, output: os.path.dirname(output.meta),
        configurations=" ".join(CONFIGURATIONS),
        seeds=" ".join(map(str, SEEDS)),
        total_steps=config["total_steps"],
        renderer=config["renderer"],
        settings=SETTINGS,
        overrides=set_options(config["train_overrides"]),
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        AGGREGATE_SHELL
