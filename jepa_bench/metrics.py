"""Run-folder I/O: the CSV column layouts, atomic writes of CSV/JSON/text, the progress display.

Owns: METRIC_COLUMNS and EPISODE_COLUMNS (what a run's CSVs hold, in order), STATE_NAMES, TIMING_COLUMNS (the
machine-dependent ones), the atomic writers every stage uses (write, then rename) and Progress.
Where a run folder is and what its files are called belongs to jepa_bench.layout. Must not
import torch or any analysis module: the trainer and every reader of run folders (aggregate,
recovery, compare) share these names.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import time
from pathlib import Path

__all__ = ["DIAGNOSTIC_COLUMNS", "EPISODE_COLUMNS", "STATE_NAMES", "METRIC_COLUMNS", "TIMING_COLUMNS", "Progress", "atomic_write_text",
           "markdown_table", "read_json", "write_csv_atomic", "write_json_atomic", "write_table"]

METRIC_COLUMNS = (
    "update", "env_step", "wall_time", "sps", "episodic_return", "episodes", "jepa_loss",
    "reg_loss", "actor_loss", "critic_loss", "entropy", "approx_kl", "clip_frac",
    "explained_variance", "embed_var", "embed_rank", "lr",
)
EPISODE_COLUMNS = ("env_step", "return", "length")
STATE_NAMES = ("x", "x_dot", "theta", "theta_dot")
"""CartPole's state components, in gymnasium's order: the columns of every probe table."""
TIMING_COLUMNS = ("wall_time", "sps")
"""Columns that depend on the machine's speed; everything else is reproducible bit for bit."""
DIAGNOSTIC_COLUMNS = (
    "grad_enc_jepa", "grad_enc_actor", "grad_enc_critic", "grad_enc_entropy", "grad_enc_reg",
    "grad_norm_encoder", "grad_norm_predictor", "grad_norm_heads",
)
"""Written after METRIC_COLUMNS by a run trained with the gradient diagnostic (`train
--grad-diagnostic`), on the first minibatch of each update: the norm of the gradient each term
of Eq. 3 sends into the x-encoder, and each part's gradient norm before the clip. Reading them
does not change the run, so `compare` leaves them out."""


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename over it: readers see old or new."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def write_csv_atomic(path: Path, columns, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    atomic_write_text(path, buf.getvalue())


def write_table(df, path: Path) -> None:
    """A tidy pandas table as CSV, atomically, with the same line ends on every platform."""
    atomic_write_text(path, df.to_csv(index=False, lineterminator="\n"))


def markdown_table(df) -> str:
    """A pandas DataFrame as a markdown table (floats to 3 significant digits), newline-ended;
    a line saying so for an empty one."""
    if df.empty:
        return "(nothing run yet)\n"
    fmt = lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_json_atomic(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def read_json(path: Path) -> dict:
    """A JSON file's content; a file that is not JSON raises json.JSONDecodeError (a ValueError,
    so the command line shows it in one line) whose message names the file."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise json.JSONDecodeError(f"{path} is not valid JSON (restore it, or rerun the stage "
                                   f"that writes it): {exc.msg}", exc.doc, exc.pos) from None


class Progress:
    """A one-line bar on a terminal; plain lines every ~5% of the run otherwise (logs, CI)."""

    def __init__(self, total_steps: int, label: str, stream=None, enabled: bool = True):
        self.total = total_steps
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and self.stream.isatty()
        self.next_line_at = 0
        self.started = time.monotonic()

    def update(self, step: int, sps: float, recent_return: float | None, embed_var: float) -> None:
        if not self.enabled:
            return
        frac = min(1.0, step / self.total)
        ret = "-" if recent_return is None else f"{recent_return:.1f}"
        text = (f"{self.label} {step}/{self.total} steps ({100 * frac:.0f}%) | {sps:.0f} sps | "
                f"return {ret} | embed_var {embed_var:.2e}")
        if self.tty:
            width = 24
            filled = int(width * frac)
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {text}\033[K")
            self.stream.flush()
        elif step >= self.next_line_at or step >= self.total:
            self.stream.write(text + "\n")
            self.stream.flush()
            self.next_line_at = step + max(1, self.total // 20)

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
