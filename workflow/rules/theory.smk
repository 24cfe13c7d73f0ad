# Numerical audit of Yu & Chen's Propositions 1 and 2 (jepa_bench/studies/theory/): a small random MDP,
# exact policy evaluation, the paper's construction checked term by term.


rule theory:
    output:
        report=f"{RESULTS}/theory.md",
    log:
        f"{LOGS}/theory.log",
    params:
        seed=0,
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench theory --seed {params.seed} --out {output.report} > {log} 2>&1"
