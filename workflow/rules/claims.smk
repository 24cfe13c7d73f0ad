# The paper's section-3 claims checked against the runs (jepa_bench.analysis.claims.write_claims).
# Both reports are results of `snakemake --report`, labelled with each claim's verdict; so is the
# runs table they read (runs.csv: one row per run).

from jepa_bench.tools.report_labels import claims_labels, runs_labels


rule claims:
    input:
        runs=report(str(rules.aggregate.output.runs), caption="../report/runs.rst",
                    category="Provenance",
                    labels=lambda wildcards, input: runs_labels(input.meta)),
        stats=rules.aggregate.output.stats,
        meta=rules.aggregate.output.meta,
    output:
        md=report(f"{RESULTS}/claims.md", caption="../report/claims.rst", category="Claims",
                  labels=lambda wildcards, output: claims_labels(output.json)),
        json=report(f"{RESULTS}/claims.json", caption="../report/claims.rst", category="Claims",
                    labels=lambda wildcards, output: claims_labels(output.json)),
    log:
        f"{LOGS}/claims.log",
    params:
        summary=lambda wildcards, input: os.path.dirname(input.meta),
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench claims --summary {params.summary} --out {output.md} > {log} 2>&1"
