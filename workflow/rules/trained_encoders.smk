# What the trained encoders of this preset keep (docs/trained-encoders.md), experiment
# `trained_encoders`: the frozen probe of every run's encoder snapshots (`jepa-bench
# probe-frozen`; runs keep their snapshots since that protocol's commit) and one report that
# decides Proposition 2 for each preregistered pair present, and claim 4's second half when
# j1g0r1 is here. The sweep's centre has its own twin of these rules (sensitivity.smk).

FROZEN_PROBE = f"{RESULTS}/frozen-probe/{{configuration}}/seed{{seed}}.json"


rule frozen_probe:
    input:
        run=str(TRAIN_RUN.run_json),
    output:
        json=FROZEN_PROBE,
    log:
        f"{LOGS}/frozen-probe/{{configuration}}/seed{{seed}}.log",
    params:
        run_dir=lambda wildcards, input: os.path.dirname(input.run),
    threads: 1
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench probe-frozen {params.run_dir} --threads {threads}"
        " --json {output.json} > {log} 2>&1"


rule trained_encoders:
    input:
        expand(FROZEN_PROBE, configuration=CONFIGURATIONS, seed=SEEDS),
    output:
        md=report(f"{RESULTS}/trained-encoders.md", caption="../report/trained_encoders.rst",
                  category="Trained encoders"),
        json=f"{RESULTS}/trained-encoders.json",
        csv=f"{RESULTS}/trained-encoders.csv",
        figures=[report(f"{FIGURES}/trained_encoders.png",
                        caption="../report/trained_encoders.rst", category="Trained encoders"),
                 f"{FIGURES}/trained_encoders.pdf"],
    log:
        f"{LOGS}/trained-encoders.log",
    params:
        figures=lambda wildcards, output: os.path.dirname(output.figures[0]),
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench trained-encoders --probes {input} --figures {params.figures}"
        " --out {output.md} > {log} 2>&1"
