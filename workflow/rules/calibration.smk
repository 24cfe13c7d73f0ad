# The calibrations of docs/calibration.md (the settings the paper leaves unstated: probe cells,
# stage A; PPO screens and confirmation runs on cnn_pixel_ppo, stages B and C) and of
# docs/yu-chen-protocol.md (A2C on cnn_pixel_a2c), and the report of what they measured (a result
# of `snakemake --report`). Config key `calibration`; presets workflow/config/calibration.yaml and
# workflow/config/a2c-calibration.yaml. A confirmation stage with `from: screen` trains the
# screen's winner: the checkpoint calibration_winner applies the preregistered rule once every
# screen run is complete, and only then does Snakemake know which cell the confirmation trains.

import json

import re

from jepa_bench.studies.calibration import (TRAINING_STAGES, calibration_targets, report_inputs,
                                            source_stage, stage_overrides)
from jepa_bench.config import CONFIGS
from jepa_bench.layout import calibration_paths, calibration_winner_json, probe_json
from jepa_bench.metrics import read_json

CALIBRATION = config.get("calibration") or {}
CAL_STAGES = [s for s in TRAINING_STAGES if s in CALIBRATION]
CAL_CELLS = sorted({c for stage in CAL_STAGES + ["probe"]
                    for c in CALIBRATION.get(stage, {}).get("cells", {})}) or ["none"]
# the stages that confirm another stage's winner, and what they confirm (checked now)
try:
    CAL_FROM = {s: source_stage(CALIBRATION, s) for s in CAL_STAGES if "from" in CALIBRATION[s]}
except ValueError as exc:
    stop(exc)

# {RESULTS}/{stage}/{cell}/seed{seed}/, from jepa_bench.layout like every run folder
CAL_RUN = calibration_paths(RESULTS, "{stage}", "{cell}", "{seed}")


# a cell is never a configuration name, so calibration_probe and probe.smk's rule probe, which
# share the layout's probe_json pattern, can never write the same file
_named_like_configurations = sorted(set(CAL_CELLS) & set(CONFIGS))
if _named_like_configurations:
    stop(f"calibration cells {_named_like_configurations} are named like configurations; give "
         "them other names (a cell names a set of settings, not a configuration)")


wildcard_constraints:
    cell="|".join(map(re.escape, CAL_CELLS)),
    stage="|".join(CAL_STAGES or ["none"]),


rule calibration_probe:
    output:
        json=str(probe_json(RESULTS, "{cell}", "{seed}")),
    log:
        f"{LOGS}/probe/{{cell}}/seed{{seed}}.log",
    params:
        config=lambda w: CALIBRATION["probe"]["cells"][w.cell]["config"],
        settings=lambda w: CALIBRATION["probe"].get("settings", "v1"),
        overrides=lambda w: set_options(CALIBRATION["probe"]["cells"][w.cell]["set"]),
    threads: 1
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench probe --config {params.config} --seed {wildcards.seed}"
        " --settings {params.settings} {params.overrides} --threads {threads}"
        " --json {output.json} > {log} 2>&1"


rule calibration_train:
    output:
        run=str(CAL_RUN.run_json),
        metrics=str(CAL_RUN.metrics),
        episodes=str(CAL_RUN.episodes),
    log:
        f"{LOGS}/{{stage}}/{{cell}}/seed{{seed}}.log",
    params:
        out_dir=lambda wildcards, output: os.path.dirname(output.run),
        config=lambda w: CALIBRATION[w.stage]["config"],
        settings=lambda w: CALIBRATION[w.stage]["settings"],
        total_steps=lambda w: CALIBRATION[w.stage]["total_steps"],
        renderer=config["renderer"],
        device=config["device"],
        overrides=lambda w: set_options(stage_overrides(CALIBRATION, w.stage, w.cell)),
    threads: 1
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        train_shell(configuration="{params.config}")


checkpoint calibration_winner:
    input:
        lambda w: calibration_targets({CAL_FROM[w.stage]: CALIBRATION[CAL_FROM[w.stage]]}, RESULTS),
    output:
        json=str(calibration_winner_json(RESULTS, "{stage}")),
    log:
        f"{LOGS}/{{stage}}_winner.log",
    params:
        root=lambda wildcards, output: os.path.dirname(output.json),
        spec=shlex.quote(json.dumps(CALIBRATION, sort_keys=True)),
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench calibration-winner --root {params.root} --spec {params.spec}"
        " --stage {wildcards.stage} --out {output.json} > {log} 2>&1"


rule calibration_report:
    input:
        # a confirmation's runs once the checkpoint has named the winner it trains
        lambda w: report_inputs(CALIBRATION, RESULTS, lambda stage: read_json(
            checkpoints.calibration_winner.get(stage=stage).output.json)["cell"]),
    output:
        report=report(f"{RESULTS}/calibration.md", caption="../report/calibration.rst",
                      category="Calibration", labels={"report": "stages A, B and C"}),
    log:
        f"{LOGS}/calibration_report.log",
    params:
        root=lambda wildcards, output: os.path.dirname(output.report),
        spec=shlex.quote(json.dumps(CALIBRATION, sort_keys=True)),
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        "jepa-bench calibration-report --root {params.root} --spec {params.spec}"
        " --out {output.report} > {log} 2>&1"
