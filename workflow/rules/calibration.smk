# The calibration of docs/calibration.md (the settings the paper leaves unstated): probe cells
# (stage A), PPO screens and the confirmation runs on cnn_pixel_ppo (stages B and C), and the
# report of what they measured (a result of `snakemake --report`). Config key `calibration`;
# preset workflow/config/calibration.yaml.

import json

from jepa_bench.studies.calibration import TRAINING_STAGES, calibration_targets
from jepa_bench.config import CONFIGS
from jepa_bench.layout import calibration_paths, probe_json

CALIBRATION = config.get("calibration") or {}
CAL_STAGES = [s for s in TRAINING_STAGES if s in CALIBRATION]
CAL_CELLS = sorted({c for s in CALIBRATION.values() for c in s.get("cells", {})}) or ["none"]

# {RESULTS}/{stage}/{cell}/seed{seed}/, from jepa_bench.layout like every run folder
CAL_RUN = calibration_paths(RESULTS, "{stage}", "{cell}", "{seed}")


# a cell is never a configuration name, so calibration_probe and probe.smk's rule probe, which
# share the layout's probe_json pattern, can never write the same file
_named_like_configurations = sorted(set(CAL_CELLS) & set(CONFIGS))
if _named_like_configurations:
    stop(f"calibration cells {_named_like_configurations} are named like configurations; give "
         "them other names (a cell names a set of settings, not a configuration)")


wildcard_constraints:
    cell="|".join(CAL_CELLS),
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
        overrides=lambda w: set_options(CALIBRATION[w.stage].get("base", [])
                                        + CALIBRATION[w.stage]["cells"][w.cell]),
    threads: 1
    conda:
        "../envs/jepa-bench.yaml"
    shell:
        train_shell(configuration="{params.config}")


rule calibration_report:
    input:
        calibration_targets(CALIBRATION, RESULTS),
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
