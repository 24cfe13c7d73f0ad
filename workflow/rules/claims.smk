# The paper's section-3 claims checked against the runs (jepa_bench.analysis.claims.write_claims).


rule claims:
    input:
        runs=rules.aggregate.output.runs,
        stats=rules.aggregate.output.stats,
        meta=rules.aggregate.output.meta,
    output:
        md=f"{RESULTS}/claims.md",
        json=f"{RESULTS}/claims.json",
    log:
        f"{LOGS}/claims.log",
    params:
        summary=lambda wildcards, input: os.path.dirname(input.meta),
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench claims --summary {params.summary} --out {output.md} > {log} 2>&1"
