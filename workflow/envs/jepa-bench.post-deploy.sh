#!/usr/bin/env bash
# Snakemake runs this inside the new conda environment, from the workflow's working directory
# (the repository root): install the jepa-bench package and its `jepa-bench` command.
set -euo pipefail
python -m pip install --no-deps --editable .
