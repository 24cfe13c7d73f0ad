# Recovery from collapse (preset workflow/config/recovery.yaml; definitions in
# jepa_bench/studies/recovery/). Per algorithm and seed:
#   collapse         the grad_off configuration, trained until embed_var < the collapse threshold
#                    (train --set stop_embed_var) or the step cap; a capped run has NOT collapsed
#   recover          from that run's checkpoints/last.pt (train --init-from), grad_on vs grad_off
#   recovery_report  which seeds collapsed, which arms recovered and how fast: tables, figure,
#                    recovery.md + recovery.json (the report and figure are results of
#                    `snakemake --report`, labelled with each question's verdict)
# Like rule train, the checkpoint is not a declared output, so that Snakemake never deletes it
# before `train --resume` can continue an interrupted run; run.json (rewritten with status
# "complete" at the end) stands for the finished run. Run folders, file names and the checkpoint
# come from jepa_bench.layout (collapse_paths, switch_paths), which the report reads with too.

from jepa_bench.layout import collapse_paths, recovery_root_of, switch_paths
from jepa_bench.studies.recovery import RECOVERY_ARMS, RecoverySettings
from jepa_bench.studies.recovery.experiment import RECOVERY_SUMMARY_FILES
from jepa_bench.tools.report_labels import recovery_labels

RECOVERY = f"{RESULTS}/recovery"
RECOVERY_ALGOS = config["recovery_algorithms"]
RECOVERY_CONFIGS = config["recovery_configs"]
RECOVERY_ARMS = list(RECOVERY_ARMS)  # (a list for expand)

_unmapped = [a for a in RECOVERY_ALGOS if a not in RECOVERY_CONFIGS]
if _unmapped:
    stop(f"recovery_algorithms {_unmapped} have no entry in recovery_configs "
         f"(it maps {sorted(RECOVERY_CONFIGS)}); add one or drop them")
# the numbers the report will be made with, checked now rather than after the training
try:
    RecoverySettings(
        collapse_steps=config["recovery_collapse_steps"],
        recovery_steps=config["recovery_steps"],
        collapse_threshold=config["recovery_collapse_threshold"],
        recovery_threshold=config["recovery_threshold"],
    )
except ValueError as exc:
    stop(exc)


wildcard_constraints:
    algo="|".join(RECOVERY_ALGOS),
    arm="|".join(RECOVERY_ARMS),


COLLAPSE_RUN = collapse_paths(RECOVERY, "{algo}", "{seed}")
SWITCH_RUN = switch_paths(RECOVERY, "{algo}", "{arm}", "{seed}")


rule collapse:
    output:
        run=str(COLLAPSE_RUN.run_json),
        metrics=str(COLLAPSE_RUN.metrics),
        episodes=str(COLLAPSE_RUN.episodes),
    log:
        f"{LOGS}/recovery/collapse/{{algo}}/seed{{seed}}.log",
    params:
        out_dir=lambda wildcards, output: os.path.dirname(output.run),
        configuration=lambda wildcards: RECOVERY_CONFIGS[wildcards.algo]["grad_off"],
        total_steps=config["recovery_collapse_steps"],
        renderer=config["renderer"],
        device=config["device"],
        settings=SETTINGS,
        # the stop comes last, so that it wins over any stop_embed_var in train_overrides
        overrides=set_options(
            config["train_overrides"]
            + [f"stop_embed_var={config['recovery_collapse_threshold']!r}"]
        ),
    # profiles set the real number (set-threads); it becomes torch's thread count
    threads: 1
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        train_shell("{params.configuration}")


rule recover:
    input:
        collapsed=rules.collapse.output.run,
    output:
        run=str(SWITCH_RUN.run_json),
        metrics=str(SWITCH_RUN.metrics),
        episodes=str(SWITCH_RUN.episodes),
    log:
        f"{LOGS}/recovery/{{algo}}/{{arm}}/seed{{seed}}.log",
    params:
        # the collapse run's weights, saved in its run folder by `jepa-bench train`
        checkpoint=lambda wildcards: collapse_paths(RECOVERY, wildcards.algo, wildcards.seed).checkpoint,
        out_dir=lambda wildcards, output: os.path.dirname(output.run),
        configuration=lambda wildcards: RECOVERY_CONFIGS[wildcards.algo][wildcards.arm],
        total_steps=config["recovery_steps"],
        renderer=config["renderer"],
        device=config["device"],
        settings=SETTINGS,
        overrides=set_options(config["train_overrides"]),
    threads: 1
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        train_shell("{params.configuration}", init_from="{params.checkpoint}")


rule recovery_report:
    input:
        collapse=expand(rules.collapse.output.run, algo=RECOVERY_ALGOS, seed=SEEDS),
        collapse_metrics=expand(rules.collapse.output.metrics, algo=RECOVERY_ALGOS, seed=SEEDS),
        runs=expand(rules.recover.output.run, algo=RECOVERY_ALGOS, arm=RECOVERY_ARMS, seed=SEEDS),
        metrics=expand(
            rules.recover.output.metrics, algo=RECOVERY_ALGOS, arm=RECOVERY_ARMS, seed=SEEDS
        ),
        episodes=expand(
            rules.recover.output.episodes, algo=RECOVERY_ALGOS, arm=RECOVERY_ARMS, seed=SEEDS
        ),
    output:
        **{key: f"{RECOVERY}/summary/{name}" for key, name in RECOVERY_SUMMARY_FILES.items()},
        figure=[report(f"{FIGURES}/recovery.png", caption="../report/recovery_figure.rst",
                       category="Recovery",
                       labels=lambda wildcards, output: recovery_labels(output.json)),
                f"{FIGURES}/recovery.pdf"],
        md=report(f"{RESULTS}/recovery.md", caption="../report/recovery.rst",
                  category="Recovery",
                  labels=lambda wildcards, output: recovery_labels(output.json)),
        json=f"{RESULTS}/recovery.json",
    log:
        f"{LOGS}/recovery.log",
    params:
        root=lambda wildcards, input: recovery_root_of(input.collapse[0]),
        summary=lambda wildcards, output: os.path.dirname(output.runs),
        figures=lambda wildcards, output: os.path.dirname(output.figure[0]),
        algos=" ".join(RECOVERY_ALGOS),
        seeds=" ".join(map(str, SEEDS)),
        collapse_steps=config["recovery_collapse_steps"],
        recovery_steps=config["recovery_steps"],
        collapse_threshold=repr(config["recovery_collapse_threshold"]),
        recovery_threshold=repr(config["recovery_threshold"]),
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench recovery --root {params.root} --algos {params.algos} --seeds {params.seeds}"
        " --collapse-steps {params.collapse_steps} --recovery-steps {params.recovery_steps}"
        " --collapse-threshold {params.collapse_threshold}"
        " --recovery-threshold {params.recovery_threshold}"
        " --summary {params.summary} --figures {params.figures} --out {output.md} > {log} 2>&1"
