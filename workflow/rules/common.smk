# Config validation and the helpers every stage shares.

import os
import shlex
from pathlib import Path

from snakemake.utils import validate


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
