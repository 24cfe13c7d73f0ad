# Config validation and the helpers every stage shares.

import os
import shlex
from pathlib import Path

from snakemake.utils import validate

from jepa_bench.workflow_config import config_error, load_schema, seeds_from_command_line

# `snakemake --config seeds=[0,1]` hands the seeds over as strings
if "seeds" in config:
    config["seeds"] = seeds_from_command_line(config["seeds"])
# one line naming the bad key and value; snakemake's validate then fills in the defaults
_SCHEMA = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"
_problem = config_error(config, load_schema(_SCHEMA))
if _problem:
    raise ValueError(_problem)
validate(config, schema="../schemas/config.schema.yaml")

CONFIGURATIONS = config["configurations"]
SEEDS = config["seeds"]
RESULTS = config["results_root"].rstrip("/")
# one run folder per run: {RUNS}/{configuration}/seed{seed}/ (written by jepa_bench/train.py);
# a preset may point runs_root at another preset's runs to reuse them (same steps and overrides)
RUNS = (config["runs_root"] or f"{RESULTS}/runs").rstrip(os.sep)
SUMMARY = f"{RESULTS}/summary"
FIGURES = f"{RESULTS}/figures"
LOGS = f"{RESULTS}/logs"


wildcard_constraints:
    configuration="|".join(CONFIGURATIONS),
    seed=r"\d+",


def set_options(overrides):
    """train_overrides ["k=v", ...] as repeated, shell-quoted --set options."""
    return " ".join(f"--set {shlex.quote(item)}" for item in overrides)
