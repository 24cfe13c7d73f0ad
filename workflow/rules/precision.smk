# Does opt-in bf16 learn like float32? The check preregistered in docs/precision.md: the
# configuration of `configurations` (one) over `seeds`, once per arm (wildcard `precision`: fp32, bf16),
# each arm aggregated on its own, then one report (jepa_bench.studies.precision).
# Built when `experiments` has precision; preset workflow/config/precision.yaml. The report and
# its figure are results of `snakemake --report`, labelled with the verdict.

from jepa_bench.layout import RunPaths, runs_root_of
from jepa_bench.studies.precision import PRECISIONS
from jepa_bench.tools.report_labels import precision_labels

# {RESULTS}/{precision}/runs/{configuration}/seed{seed}/
PRECISION_RUN = RunPaths.of(f"{RESULTS}/{{precision}}/runs", "{configuration}", "{seed}")


wildcard_constraints:
    precision="|".join(PRECISIONS),


rule precision_train:
    output:
        run=str(PRECISION_RUN.run_json),
        metrics=str(PRECISION_RUN.metrics),
        episodes=str(PRECISION_RUN.episodes),
    log:
        f"{LOGS}/precision/{{precision}}/{{configuration}}/seed{{seed}}.log",
    params:
        out_dir=lambda wildcards, output: os.path.dirname(output.run),
        total_steps=config["total_steps"],
        renderer=config["renderer"],
        device=config["device"],
        settings=SETTINGS,
        overrides=lambda w: set_options(config["train_overrides"] + [f"precision={w.precision}"]),
    threads: 1
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        TRAIN_SHELL


rule precision_aggregate:
    input:
        runs=expand(rules.precision_train.output.run, configuration=CONFIGURATIONS, seed=SEEDS,
                    allow_missing=True),
    output:
        **{key: f"{RESULTS}/{{precision}}/summary/{name}" for key, name in SUMMARY_FILES.items()},
    log:
        f"{LOGS}/precision/{{precision}}/aggregate.log",
    params:
        runs_root=lambda wildcards, input: runs_root_of(input.runs[0]),
        out_dir=lambda wildcards, output: os.path.dirname(output.meta),
        configurations=" ".join(CONFIGURATIONS),
        seeds=" ".join(map(str, SEEDS)),
        total_steps=config["total_steps"],
        renderer=config["renderer"],
        settings=SETTINGS,
        overrides=lambda w: set_options(config["train_overrides"] + [f"precision={w.precision}"]),
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        AGGREGATE_SHELL


rule precision_report:
    input:
        expand(rules.precision_aggregate.output.meta, precision=PRECISIONS),
    output:
        md=report(f"{RESULTS}/precision.md", caption="../report/precision.rst",
                  category="Precision",
                  labels=lambda wildcards, output: precision_labels(output.json)),
        json=f"{RESULTS}/precision.json",
        figures=[report(f"{FIGURES}/precision.png", caption="../report/precision_figure.rst",
                        category="Precision",
                        labels=lambda wildcards, output: precision_labels(output.json)),
                 f"{FIGURES}/precision.pdf"],
    log:
        f"{LOGS}/precision/report.log",
    params:
        pairs=lambda wildcards, input: " ".join(
            f"{arm}={os.path.dirname(meta)}" for arm, meta in zip(PRECISIONS, input)),
        out_dir=lambda wildcards, output: os.path.dirname(output.md),
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench precision-report --summary {params.pairs} --out {params.out_dir} > {log} 2>&1"
