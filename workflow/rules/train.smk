# One training run per configuration and seed. The CLI writes run.json, metrics.csv and
# episodes.csv atomically and keeps checkpoints/ beside them; --resume continues an
# interrupted run from its checkpoint (Snakemake deletes only the declared outputs).


rule train:
    output:
        run=f"{RUNS}/{{configuration}}/seed{{seed}}/run.json",
        metrics=f"{RUNS}/{{configuration}}/seed{{seed}}/metrics.csv",
        episodes=f"{RUNS}/{{configuration}}/seed{{seed}}/episodes.csv",
    log:
        f"{LOGS}/train/{{configuration}}/seed{{seed}}.log",
    params:
        out_dir=lambda wildcards, output: os.path.dirname(output.run),
        total_steps=config["total_steps"],
        renderer=config["renderer"],
        device=config["device"],
        overrides=set_options(config["train_overrides"]),
    # profiles set the real number (set-threads); it becomes torch's thread count
    threads: 1
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench train --config {wildcards.configuration} --seed {wildcards.seed}"
        " --total-steps {params.total_steps} --out {params.out_dir}"
        " --renderer {params.renderer} --device {params.device} --threads {threads}"
        " --resume --quiet {params.overrides} > {log} 2>&1"
