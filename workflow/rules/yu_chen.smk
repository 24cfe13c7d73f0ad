# Yu & Chen's claims and the second half of claim 4 in one table (jepa_bench.studies.yu_chen),
# experiment `yu_chen`: each verdict as the report that owns its criterion decided it (config
# key yu_chen: reports {name: path to a report JSON}, a2c_control: the A2C calibration's
# confirm.csv). Reports of presets not run yet are listed as such; a result of
# `snakemake --report`.

YU_CHEN = config["yu_chen"]


rule yu_chen:
    input:
        # only those that exist: the table says which are not run yet
        [p for p in [*YU_CHEN["reports"].values(), YU_CHEN.get("a2c_control") or ""]
         if p and os.path.exists(p)],
    output:
        md=report(f"{RESULTS}/yu-chen.md", caption="../report/yu_chen.rst", category="Claims",
                  labels={"report": "Yu & Chen, claim 4's second half"}),
        json=f"{RESULTS}/yu-chen.json",
    log:
        f"{LOGS}/yu_chen.log",
    params:
        reports=" ".join(shlex.quote(f"{n}={p}") for n, p in YU_CHEN["reports"].items()),
        control=(f"--a2c-control {shlex.quote(YU_CHEN['a2c_control'])}"
                 if YU_CHEN.get("a2c_control") else ""),
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench yu-chen --reports {params.reports} {params.control}"
        " --out {output.md} > {log} 2>&1"
