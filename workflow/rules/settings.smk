# The claims' verdicts of this preset beside those of other settings sets (config key
# `compare_settings`: set name -> that set's claims.json), one table (jepa_bench.studies.settings_report);
# built when `experiments` has settings; a result of `snakemake --report`.


rule settings_table:
    input:
        claims=rules.claims.output.json,
        others=list(config["compare_settings"].values()),
    output:
        md=report(f"{RESULTS}/settings.md", caption="../report/settings.rst",
                  category="Settings sets",
                  labels={"sets": " ".join([*config["compare_settings"], SETTINGS])}),
    log:
        f"{LOGS}/settings_table.log",
    params:
        pairs=" ".join(shlex.quote(f"{name}={path}")
                       for name, path in config["compare_settings"].items()),
        this=SETTINGS,
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench settings-table --claims {params.pairs} {params.this}={input.claims}"
        " --out {output.md} > {log} 2>&1"
