# One training run per configuration and seed. The CLI writes run.json, metrics.csv and
# episodes.csv atomically and keeps checkpoints/ beside them; --resume continues an
# interrupted run from its checkpoint (Snakemake deletes only the declared outputs).
# The run folder and its file names come from jepa_bench.layout, as everywhere else.

from jepa_bench.layout import RunPaths

# {RUNS}/{configuration}/seed{seed}/, the wildcards standing in for a configuration and a seed
TRAIN_RUN = RunPaths.of(RUNS, "{configuration}", "{seed}")

# one training run of the configuration and seed the wildcards name
TRAIN_SHELL = train_shell()


rule train:
    output:
        run=str(TRAIN_RUN.run_json),
        metrics=str(TRAIN_RUN.metrics),
        episodes=str(TRAIN_RUN.episodes),
    log:
        f"{LOGS}/train/{{configuration}}/seed{{seed}}.log",
    params:
        out_dir=lambda wildcards, output: os.path.dirname(output.run),
        total_steps=config["total_steps"],
        renderer=config["renderer"],
        device=config["device"],
        settings=SETTINGS,
        overrides=set_options(config["train_overrides"]),
    # profiles set the real number (set-threads); it becomes torch's thread count
    threads: 1
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        TRAIN_SHELL
