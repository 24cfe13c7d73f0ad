# The sensitivity study of docs/sensitivity.md (jepa_bench.studies.sensitivity): one Figure 3
# experiment per point of config `sensitivity`, each in {RESULTS}/{point}/ (runs, summary,
# figures, claims.md), a configuration a point does not re-run read from the centre's runs, then
# robustness.md over the points built so far; and the frozen probe of the centre's encoders. Built when `experiments` has sensitivity; preset
# workflow/config/sensitivity.yaml. `sensitivity_through` stops at a point of the preregistered
# order (the report lists the later ones as not run).

import json
import re

from jepa_bench.layout import RunPaths
from jepa_bench.studies.sensitivity import (point_run_files, points_through, record_run_files,
                                            sweep_points)

try:
    SENS_POINTS = sweep_points(config["sensitivity"], CONFIGURATIONS)
    SENS_BUILT = points_through(SENS_POINTS, config["sensitivity_through"] or None,
                                given_as="config sensitivity_through")
except ValueError as exc:
    stop(str(exc))
SENS_BY_NAME = {p.name: p for p in SENS_POINTS}
SENS_RECORD = (config["sensitivity"].get("record") or {})
# the points' specification, for the report and the aggregate (which check the runs against it)
SENS_SPEC = shlex.quote(json.dumps(config["sensitivity"], sort_keys=True))
# {RESULTS}/{point}/runs/{configuration}/seed{seed}/
SENS_RUN = RunPaths.of(f"{RESULTS}/{{point}}/runs", "{configuration}", "{seed}")


wildcard_constraints:
    point="|".join(re.escape(p.name) for p in SENS_POINTS),


rule sensitivity_train:
    output:
        run=str(SENS_RUN.run_json),
        metrics=str(SENS_RUN.metrics),
        episodes=str(SENS_RUN.episodes),
    log:
        f"{LOGS}/sensitivity/{{point}}/{{configuration}}/seed{{seed}}.log",
    params:
        out_dir=lambda wildcards, output: os.path.dirname(output.run),
        total_steps=config["total_steps"],
        renderer=config["renderer"],
        device=config["device"],
        settings=SETTINGS,
        overrides=lambda w: set_options(config["train_overrides"]
                                        + list(SENS_BY_NAME[w.point].overrides)),
    threads: 1
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        train_shell()


rule sensitivity_aggregate:
    input:
        # a point's own runs, and the centre's for the configurations it does not re-run
        runs=lambda w: point_run_files(SENS_BY_NAME[w.point], RESULTS, CONFIGURATIONS, SEEDS),
        metrics=lambda w: point_run_files(SENS_BY_NAME[w.point], RESULTS, CONFIGURATIONS, SEEDS,
                                          "metrics"),
        episodes=lambda w: point_run_files(SENS_BY_NAME[w.point], RESULTS, CONFIGURATIONS, SEEDS,
                                           "episodes"),
    output:
        **{key: f"{RESULTS}/{{point}}/summary/{name}" for key, name in SUMMARY_FILES.items()},
    log:
        f"{LOGS}/sensitivity/{{point}}/aggregate.log",
    params:
        out_dir=lambda wildcards, output: os.path.dirname(output.meta),
        configurations=" ".join(CONFIGURATIONS),
        seeds=" ".join(map(str, SEEDS)),
        total_steps=config["total_steps"],
        settings=SETTINGS,
        spec=SENS_SPEC,
        # {root}/{point}/summary/summary.json -> {root}
        root=lambda wildcards, output: str(Path(output.meta).parents[2]),
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench sensitivity-aggregate --spec {params.spec} --root {params.root}"
        " --point {wildcards.point} --configs {params.configurations} --seeds {params.seeds}"
        " --total-steps {params.total_steps} --settings {params.settings}"
        " --out {params.out_dir} > {log} 2>&1"


rule sensitivity_claims:
    input:
        runs=rules.sensitivity_aggregate.output.runs,
        stats=rules.sensitivity_aggregate.output.stats,
        meta=rules.sensitivity_aggregate.output.meta,
    output:
        md=report(f"{RESULTS}/{{point}}/claims.md", caption="../report/sensitivity_point.rst",
                  category="Sensitivity, per point", subcategory="{point}",
                  labels={"point": "{point}", "file": "claims"}),
        json=f"{RESULTS}/{{point}}/claims.json",
    log:
        f"{LOGS}/sensitivity/{{point}}/claims.log",
    params:
        summary=lambda wildcards, input: os.path.dirname(input.meta),
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench claims --summary {params.summary} --out {output.md} > {log} 2>&1"


rule sensitivity_plots:
    input:
        curves=rules.sensitivity_aggregate.output.curves,
        stats=rules.sensitivity_aggregate.output.stats,
        meta=rules.sensitivity_aggregate.output.meta,
    output:
        returns=[report(f"{RESULTS}/{{point}}/figures/fig3_return.png",
                        caption="../report/sensitivity_point.rst",
                        category="Sensitivity, per point", subcategory="{point}",
                        labels={"point": "{point}", "file": "Figure 3 replica"}),
                 f"{RESULTS}/{{point}}/figures/fig3_return.pdf"],
        embed_var=multiext(f"{RESULTS}/{{point}}/figures/embed_var", ".png", ".pdf"),
        jepa_loss=multiext(f"{RESULTS}/{{point}}/figures/jepa_loss", ".png", ".pdf"),
        embed_rank=multiext(f"{RESULTS}/{{point}}/figures/embed_rank", ".png", ".pdf"),
    log:
        f"{LOGS}/sensitivity/{{point}}/plots.log",
    params:
        summary=lambda wildcards, input: os.path.dirname(input.meta),
        out_dir=lambda wildcards, output: os.path.dirname(output.returns[0]),
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench plots --summary {params.summary} --out {params.out_dir} > {log} 2>&1"


rule sensitivity_report:
    input:
        claims=expand(rules.sensitivity_claims.output.json, point=[p.name for p in SENS_BUILT]),
        figures=expand(rules.sensitivity_plots.output.returns, point=[p.name for p in SENS_BUILT]),
        record=list(SENS_RECORD.values()),
        # what the report reads to set the centre beside each record, run by run
        record_runs=[f for path in SENS_RECORD.values()
                     for f in record_run_files(path, CONFIGURATIONS, SEEDS)],
    output:
        md=report(f"{RESULTS}/robustness.md", caption="../report/robustness.rst",
                  category="Sensitivity"),
        json=f"{RESULTS}/robustness.json",
        figures=[report(f"{FIGURES}/contrast.png", caption="../report/contrast.rst",
                        category="Sensitivity"), f"{FIGURES}/contrast.pdf",
                 report(f"{FIGURES}/gradient_share.png", caption="../report/gradient_share.rst",
                        category="Sensitivity"), f"{FIGURES}/gradient_share.pdf"],
    log:
        f"{LOGS}/sensitivity/report.log",
    params:
        spec=SENS_SPEC,
        through=[p.name for p in SENS_BUILT][-1],
        configurations=" ".join(CONFIGURATIONS),
        seeds=" ".join(map(str, SEEDS)),
        record=" ".join(f"{k}={v}" for k, v in SENS_RECORD.items()),
        root=lambda wildcards, output: os.path.dirname(output.md),
        figures=lambda wildcards, output: os.path.dirname(output.figures[0]),
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench sensitivity-report --spec {params.spec} --root {params.root}"
        " --through {params.through} --configs {params.configurations} --seeds {params.seeds}"
        " --record {params.record} --figures {params.figures} --out {output.md} > {log} 2>&1"


# What the trained encoders keep (docs/trained-encoders.md): the frozen probe of each run's
# encoder snapshots, then the centre's report (Proposition 2, claim 4's second half).
SENS_PROBE = f"{RESULTS}/{{point}}/frozen-probe/{{configuration}}/seed{{seed}}.json"


rule sensitivity_frozen_probe:
    input:
        run=str(SENS_RUN.run_json),
    output:
        json=SENS_PROBE,
    log:
        f"{LOGS}/sensitivity/{{point}}/frozen-probe/{{configuration}}/seed{{seed}}.log",
    threads: 1
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench probe-frozen $(dirname {input.run}) --threads {threads}"
        " --json {output.json} > {log} 2>&1"


rule sensitivity_trained_encoders:
    input:
        expand(SENS_PROBE, point="centre", configuration=CONFIGURATIONS, seed=SEEDS),
    output:
        md=report(f"{RESULTS}/centre/trained-encoders.md",
                  caption="../report/trained_encoders.rst", category="Trained encoders"),
        json=f"{RESULTS}/centre/trained-encoders.json",
        csv=f"{RESULTS}/centre/trained-encoders.csv",
        figures=[report(f"{RESULTS}/centre/figures/trained_encoders.png",
                        caption="../report/trained_encoders.rst", category="Trained encoders"),
                 f"{RESULTS}/centre/figures/trained_encoders.pdf"],
    log:
        f"{LOGS}/sensitivity/trained-encoders.log",
    params:
        figures=lambda wildcards, output: os.path.dirname(output.figures[0]),
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench trained-encoders --probes {input} --figures {params.figures}"
        " --out {output.md} > {log} 2>&1"


# Exploratory, not in the protocol: the same report at another point, from the probes of the
# configurations that point re-runs, under {point}/exploratory/. Built only when asked for by
# name (docs/sensitivity-study.md says which point was probed, when and why), e.g.
#   snakemake -c2 --configfile workflow/config/sensitivity.yaml \
#       -- results/sensitivity/input_unit/exploratory/trained-encoders.md
rule sensitivity_trained_encoders_exploratory:
    input:
        lambda w: expand(SENS_PROBE, point=w.point, configuration=SENS_BY_NAME[w.point].rerun,
                         seed=SEEDS),
    output:
        md=f"{RESULTS}/{{point}}/exploratory/trained-encoders.md",
        json=f"{RESULTS}/{{point}}/exploratory/trained-encoders.json",
        csv=f"{RESULTS}/{{point}}/exploratory/trained-encoders.csv",
        figures=[f"{RESULTS}/{{point}}/exploratory/figures/trained_encoders.png",
                 f"{RESULTS}/{{point}}/exploratory/figures/trained_encoders.pdf"],
    log:
        f"{LOGS}/sensitivity/{{point}}/exploratory-trained-encoders.log",
    params:
        figures=lambda wildcards, output: os.path.dirname(output.figures[0]),
        why=lambda w: shlex.quote(f"the frozen probe of point {w.point}'s encoders, asked for "
                                  "after the point's results were read, not part of "
                                  "docs/sensitivity.md or docs/trained-encoders.md."),
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench trained-encoders --probes {input} --figures {params.figures}"
        " --exploratory {params.why} --out {output.md} > {log} 2>&1"
