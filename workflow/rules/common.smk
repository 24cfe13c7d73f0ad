# Config validation and the helpers every stage shares.
#
# Every problem found here is one line on stderr and exit status 2, before Snakemake prints
# anything else: a bad key or value (checked against workflow/schemas/config.schema.yaml),
# device=cuda on a machine without CUDA, a config that differs from the experiment already
# in results_root (its experiment.json: one folder holds one experiment), and run folders under
# runs_root (say, another preset's) made with other settings than this config asks.

import os
import shlex
import sys
from pathlib import Path

from snakemake.utils import validate

from jepa_bench.workflow_config import (clear_stale_locks, config_error, device_error,
                                        folder_lock_held, folders_error, load_schema,
                                        manifest_error,
                                        runs_root_error, seeds_from_command_line,
                                        sync_commit_times, write_manifest)


def stop(message):
    """One line on stderr, exit status 2: the first line says it all."""
    print(f"jepa-bench workflow: error: {message}", file=sys.stderr)
    sys.exit(2)


# `snakemake --config seeds=[0,1]` hands the seeds over as strings
for _key in ("seeds", "probe_seeds"):
    if _key in config:
        config[_key] = seeds_from_command_line(config[_key])
# one line naming the bad key and value; snakemake's validate then fills in the defaults
_SCHEMA = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"
_problem = config_error(config, load_schema(_SCHEMA))
if _problem:
    stop(_problem)
validate(config, schema="../schemas/config.schema.yaml")
_problem = device_error(config, sys.argv)
if _problem:
    stop(_problem)

CONFIGURATIONS = config["configurations"]
SEEDS = config["seeds"]
SETTINGS = config["settings"]
RESULTS = config["results_root"].rstrip("/")
# one run folder per run: {RUNS}/{configuration}/seed{seed}/ (written by jepa_bench/rl/run.py);
# a preset may point runs_root at another preset's runs to reuse them (same steps and overrides)
RUNS = (config["runs_root"] or f"{RESULTS}/runs").rstrip(os.sep)
SUMMARY = f"{RESULTS}/summary"
FIGURES = f"{RESULTS}/figures"
LOGS = f"{RESULTS}/logs"

# one folder holds one experiment: refuse a config that differs from the one that made the
# outputs already in RESULTS, or whose runs_root holds runs made with other settings (Snakemake
# would reuse them as they are); the manifest is written when the pipeline really starts
_problem = (folders_error(config, RUNS) or manifest_error(config, RUNS)
            or runs_root_error(config, RUNS))
if _problem:
    stop(_problem)
# a Snakemake killed by SIGKILL leaves its locks behind; no other one is alive if we get ours
clear_stale_locks()
# git writes a clone's files in path order, so a committed output can look older than its
# committed input: give committed results their commit's time (once per HEAD), and a fresh
# clone or a pull does not redo what is committed; not while another Snakemake here runs
if folder_lock_held():
    sync_commit_times()


onstart:
    write_manifest(config, RUNS)


wildcard_constraints:
    configuration="|".join(CONFIGURATIONS),
    seed=r"\d+",


def set_options(overrides):
    """train_overrides ["k=v", ...] as repeated, shell-quoted --set options."""
    return " ".join(f"--set {shlex.quote(item)}" for item in overrides)


def train_shell(configuration="{wildcards.configuration}", init_from=""):
    """The shell command of one training run, for every rule that trains (train.smk's train, the
    arms of precision.smk, collapse and recover of recovery.smk, calibration_train): `configuration`
    is the pattern of the --config value, `init_from` that of a checkpoint to start from (train
    --init-from); params give total_steps, out_dir, renderer, device, settings and overrides."""
    start = f" --init-from {init_from}" if init_from else ""
    # read-only logging (docs/sensitivity.md): the same runs with it or without
    start += " --grad-diagnostic" if config["grad_diagnostic"] else ""
    return (
        f"jepa-bench train --config {configuration} --seed {{wildcards.seed}}"
        f" --total-steps {{params.total_steps}} --out {{params.out_dir}}{start}"
        " --renderer {params.renderer} --device {params.device} --threads {threads}"
        " --settings {params.settings} --resume --quiet {params.overrides} > {log} 2>&1"
    )
