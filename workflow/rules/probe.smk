# Can each encoder read the state from the frames? The supervised probe (jepa_bench.rl.probe) of a
# freshly initialised encoder of each configuration in `probe_configs`, under this preset's
# settings set, and one table of its R² per state component and embedding variance at init
# (a result of `snakemake --report`, as Markdown and CSV).

from jepa_bench.layout import probe_json


# probe_configs are configuration names (the schema's enum), never calibration cells (see
# calibration.smk), so the two rules that write probe_json's pattern cannot meet
wildcard_constraints:
    probe_config="|".join(config["probe_configs"]),


rule probe:
    output:
        json=str(probe_json(RESULTS, "{probe_config}", "{seed}")),
    log:
        f"{LOGS}/probe/{{probe_config}}/seed{{seed}}.log",
    params:
        settings=SETTINGS,
    threads: 1
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench probe --config {wildcards.probe_config} --seed {wildcards.seed}"
        " --settings {params.settings} --threads {threads} --json {output.json} > {log} 2>&1"


rule probe_table:
    input:
        expand(rules.probe.output.json, probe_config=config["probe_configs"],
               seed=config["probe_seeds"]),
    output:
        md=report(f"{RESULTS}/probe.md", caption="../report/probe.rst", category="Probe",
                  labels={"table": "probe", "format": "Markdown"}),
        csv=report(f"{RESULTS}/probe.csv", caption="../report/probe.rst", category="Probe",
                   labels={"table": "probe", "format": "CSV"}),
    log:
        f"{LOGS}/probe_table.log",
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench probe-table {input} --out {output.md} > {log} 2>&1"
