# Numerical audit of Yu & Chen's Propositions 1 and 2 (jepa_bench/studies/theory/): a small random MDP,
# exact policy evaluation, the paper's construction checked term by term; a result of
# `snakemake --report`.


rule theory:
    output:
        report=report(f"{RESULTS}/theory.md", caption="../report/theory.rst",
                      category="Theory audit", labels={"report": "Propositions 1 and 2"}),
    log:
        f"{LOGS}/theory.log",
    params:
        seed=0,
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench theory --seed {params.seed} --out {output.report} > {log} 2>&1"
