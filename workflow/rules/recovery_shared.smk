# A collapse that happens (docs/yu-chen-protocol.md, part 2; jepa_bench/studies/recovery/shared.py),
# preset workflow/config/recovery-shared.yaml; built when `experiments` has recovery_shared.
# Per algorithm (its own settings set: PPO v2, A2C v2-a2c) and seed:
#   recovery_shared_collapse  stage 1: the grad_off configuration (shared target, ∇ off) trained
#                             until rho = embed_var / embed_var of update 1 < the relative line or
#                             embed_var < the absolute one (train --set stop_rel_var,
#                             stop_embed_var), at most recovery_shared_collapse_steps
#   recovery_shared_outcome   the checkpoint: which seeds collapsed, {RESULTS}/collapse/{algo}.json
#   recovery_shared_switch    stage 2, for the collapsed seeds only (the report's input function
#                             asks the checkpoint): from the collapsed checkpoint (train
#                             --init-from), grad_on and grad_off
#   recovery_shared_probe     the frozen probe of each stage-2 run's encoder snapshots: step 0 is
#                             the collapsed encoder as --init-from loaded it, the last the end
#   recovery_shared_report    tables, figure, recovery.md + recovery.json (results of
#                             `snakemake --report`, labelled with each verdict)
# As in recovery.smk, checkpoints/last.pt is not a declared output (train --resume needs it);
# run folders come from jepa_bench.layout (collapse_paths, switch_paths).

from jepa_bench.layout import RunPaths, collapse_paths, recovery_root_of, switch_paths
from jepa_bench.studies.recovery import RecoverySettings, switch_wildcards
from jepa_bench.studies.recovery.shared import check_settings_sets
from jepa_bench.studies.recovery.shared_report import SHARED_FIGURE_STEM, SHARED_SUMMARY_FILES
from jepa_bench.tools.report_labels import recovery_shared_labels

RS_ALGOS = config["recovery_shared_algorithms"]
RS_CONFIGS = config["recovery_shared_configs"]
RS_ARMS = ["grad_on", "grad_off"]
try:
    RS_SETS = check_settings_sets(RS_ALGOS, {a: s for a, s in
                                             config["recovery_shared_settings"].items()
                                             if a in RS_ALGOS})
    RS_SETTINGS = RecoverySettings(
        collapse_steps=config["recovery_shared_collapse_steps"],
        recovery_steps=config["recovery_shared_steps"],
        collapse_threshold=config["recovery_shared_collapse_threshold"],
        recovery_threshold=config["recovery_shared_threshold"],
        collapse_rel=config["recovery_shared_collapse_rel"],
        recovery_rel=config["recovery_shared_rel"],
    )
except ValueError as exc:
    stop(f"recovery_shared: {exc}")
_unmapped = [a for a in RS_ALGOS if a not in RS_CONFIGS]
if _unmapped:
    stop(f"recovery_shared_algorithms {_unmapped} have no entry in recovery_shared_configs "
         f"(it maps {sorted(RS_CONFIGS)}); add one or drop them")
# the numbers both of the study's subcommands are given
RS_NUMBERS = (
    f"--seeds {' '.join(map(str, SEEDS))}"
    f" --collapse-steps {RS_SETTINGS.collapse_steps} --recovery-steps {RS_SETTINGS.recovery_steps}"
    f" --collapse-rel {RS_SETTINGS.collapse_rel!r}"
    f" --collapse-threshold {RS_SETTINGS.collapse_threshold!r}"
    f" --recovery-rel {RS_SETTINGS.recovery_rel!r}"
    f" --recovery-threshold {RS_SETTINGS.recovery_threshold!r}"
)
# its results folder also holds the stages' run folders: stages/collapse/{algo}/seed{seed}/ and
# stages/{algo}/{arm}/seed{seed}/
RS_COLLAPSE = collapse_paths(f"{RESULTS}/stages", "{algo}", "{seed}")
RS_SWITCH = switch_paths(f"{RESULTS}/stages", "{algo}", "{arm}", "{seed}")
RS_PROBE = f"{RESULTS}/frozen-probe/{{algo}}/{{arm}}/seed{{seed}}.json"
RS_CONSTRAINTS = {"algo": "|".join(RS_ALGOS), "arm": "|".join(RS_ARMS)}

# recovery.md and recovery.json are recovery_report's outputs too: the schema keeps the two
# experiments apart, and the rule of the experiment asked for writes them
if "recovery_shared" in config["experiments"]:

    ruleorder: recovery_shared_report > recovery_report

else:

    ruleorder: recovery_report > recovery_shared_report


rule recovery_shared_collapse:
    output:
        run=str(RS_COLLAPSE.run_json),
        metrics=str(RS_COLLAPSE.metrics),
        episodes=str(RS_COLLAPSE.episodes),
    log:
        f"{LOGS}/recovery-shared/collapse/{{algo}}/seed{{seed}}.log",
    wildcard_constraints:
        **RS_CONSTRAINTS,
    params:
        out_dir=lambda wildcards, output: os.path.dirname(output.run),
        configuration=lambda wildcards: RS_CONFIGS[wildcards.algo]["grad_off"],
        total_steps=RS_SETTINGS.collapse_steps,
        renderer=config["renderer"],
        device=config["device"],
        settings=lambda wildcards: RS_SETS[wildcards.algo],
        # the two stops come last, so that they win over any in train_overrides
        overrides=set_options(
            config["train_overrides"]
            + [f"stop_rel_var={RS_SETTINGS.collapse_rel!r}",
               f"stop_embed_var={RS_SETTINGS.collapse_threshold!r}"]
        ),
    # profiles set the real number (set-threads); it becomes torch's thread count
    threads: 1
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        train_shell("{params.configuration}")


checkpoint recovery_shared_outcome:
    input:
        runs=expand(rules.recovery_shared_collapse.output.run, seed=SEEDS, allow_missing=True),
        metrics=expand(rules.recovery_shared_collapse.output.metrics, seed=SEEDS,
                       allow_missing=True),
    output:
        json=f"{RESULTS}/collapse/{{algo}}.json",
    log:
        f"{LOGS}/recovery-shared/collapse/{{algo}}.log",
    wildcard_constraints:
        **RS_CONSTRAINTS,
    params:
        root=lambda wildcards, input: recovery_root_of(input.runs[0]),
        numbers=RS_NUMBERS,
        settings=lambda wildcards: RS_SETS[wildcards.algo],
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench recovery-shared-collapse --root {params.root} --algos {wildcards.algo}"
        " --settings-sets {wildcards.algo}={params.settings} {params.numbers}"
        " --out {output.json} > {log} 2>&1"


rule recovery_shared_switch:
    input:
        collapsed=rules.recovery_shared_collapse.output.run,
    output:
        run=str(RS_SWITCH.run_json),
        metrics=str(RS_SWITCH.metrics),
        episodes=str(RS_SWITCH.episodes),
    log:
        f"{LOGS}/recovery-shared/{{algo}}/{{arm}}/seed{{seed}}.log",
    wildcard_constraints:
        **RS_CONSTRAINTS,
    params:
        # the collapse run's weights, saved in its run folder by `jepa-bench train`
        checkpoint=lambda wildcards, input: RunPaths(os.path.dirname(input.collapsed)).checkpoint,
        out_dir=lambda wildcards, output: os.path.dirname(output.run),
        configuration=lambda wildcards: RS_CONFIGS[wildcards.algo][wildcards.arm],
        total_steps=RS_SETTINGS.recovery_steps,
        renderer=config["renderer"],
        device=config["device"],
        settings=lambda wildcards: RS_SETS[wildcards.algo],
        overrides=set_options(config["train_overrides"]),
    threads: 1
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        train_shell("{params.configuration}", init_from="{params.checkpoint}")


rule recovery_shared_probe:
    input:
        run=rules.recovery_shared_switch.output.run,
    output:
        json=RS_PROBE,
    log:
        f"{LOGS}/recovery-shared/frozen-probe/{{algo}}/{{arm}}/seed{{seed}}.log",
    wildcard_constraints:
        **RS_CONSTRAINTS,
    threads: 1
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench probe-frozen $(dirname {input.run}) --threads {threads}"
        " --json {output.json} > {log} 2>&1"


rule recovery_shared_report:
    input:
        outcome=expand(rules.recovery_shared_outcome.output.json, algo=RS_ALGOS),
        collapse=expand(rules.recovery_shared_collapse.output.run, algo=RS_ALGOS, seed=SEEDS),
        collapse_metrics=expand(rules.recovery_shared_collapse.output.metrics, algo=RS_ALGOS,
                                seed=SEEDS),
        # stage 2 and its probes for the seeds the checkpoint found collapsed, and no others
        switch=lambda wildcards: [
            str(path).format(**run)
            for algo in RS_ALGOS
            for run in switch_wildcards(
                checkpoints.recovery_shared_outcome.get(algo=algo).output.json)
            for path in (RS_SWITCH.run_json, RS_SWITCH.metrics, RS_SWITCH.episodes)
        ],
        probes=lambda wildcards: [
            RS_PROBE.format(**run)
            for algo in RS_ALGOS
            for run in switch_wildcards(
                checkpoints.recovery_shared_outcome.get(algo=algo).output.json)
        ],
    output:
        **{key: f"{RESULTS}/tables/{name}" for key, name in SHARED_SUMMARY_FILES.items()},
        figure=[report(f"{FIGURES}/{SHARED_FIGURE_STEM}.png",
                       caption="../report/recovery_shared_figure.rst",
                       category="A collapse that happens",
                       labels=lambda wildcards, output: recovery_shared_labels(output.json)),
                f"{FIGURES}/{SHARED_FIGURE_STEM}.pdf"],
        md=report(f"{RESULTS}/recovery.md", caption="../report/recovery_shared.rst",
                  category="A collapse that happens",
                  labels=lambda wildcards, output: recovery_shared_labels(output.json)),
        json=f"{RESULTS}/recovery.json",
    log:
        f"{LOGS}/recovery-shared/report.log",
    params:
        root=lambda wildcards, input: recovery_root_of(input.collapse[0]),
        summary=lambda wildcards, output: os.path.dirname(output.runs),
        figures=lambda wildcards, output: os.path.dirname(output.figure[0]),
        algos=" ".join(RS_ALGOS),
        sets=" ".join(f"{a}={s}" for a, s in RS_SETS.items()),
        numbers=RS_NUMBERS,
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench recovery-shared --root {params.root} --algos {params.algos}"
        " --settings-sets {params.sets} {params.numbers} --probes {input.probes}"
        " --summary {params.summary} --figures {params.figures} --out {output.md} > {log} 2>&1"
