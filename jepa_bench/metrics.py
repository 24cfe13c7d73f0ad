"""Run-folder I/O: the CSV column layouts, atomic writes of CSV/JSON/text, the progress display.

Owns: METRIC_COLUMNS and EPISODE_COLUMNS (what a run's CSVs hold, in order), STATE_NAMES, TIMING_COLUMNS (the
machine-dependent ones), the atomic writers every stage uses (write, then rename), the readers of
the files the harness writes (read_json: an object, with the keys a caller asks for; read_table:
a CSV; check_metrics_rows: a finished run's metrics.csv is whole), each failing in one line that
names the file, and Progress.
Where a run folder is and what its files are called belongs to jepa_bench.layout. Must not
import torch or any analysis module: the trainer and every reader of run folders (aggregate,
recovery, compare) share these names.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import math
import os
import sys
import time
from pathlib import Path

__all__ = ["DIAGNOSTIC_COLUMNS", "EPISODE_COLUMNS", "STATE_NAMES", "METRIC_COLUMNS",
           "TIMING_COLUMNS", "Progress", "atomic_write_text", "check_metrics_rows",
           "markdown_table", "read_json", "read_table", "write_csv_atomic", "write_json_atomic",
           "write_table"]

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
    """Write to a temporary file beside `path`, then rename over it: readers see old or new. A
    folder at `path` is an IsADirectoryError naming `path`, before anything is written; a rename
    that fails takes its temporary file away with it."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "a folder is there, not a file", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # the error that matters is the one being raised
            tmp.unlink(missing_ok=True)
        raise


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


def read_json(path: Path, need: dict[str, type] | None = None, what: str = "") -> dict:
    """A JSON file's content, which must be an object, as every file the harness writes is.

    `need` maps the keys the caller reads to the type each must have, and `what` names the kind
    of file expected, so that a file of another kind (a probe given where a claims report
    belongs) is one line naming it rather than a KeyError deep in a report. Every failure is a
    ValueError (a file that is not JSON: json.JSONDecodeError) whose message names the file, so
    the command line shows it in one line."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text, so not valid JSON (restore it, or rerun "
                         "the stage that writes it)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise json.JSONDecodeError(f"{path} is not valid JSON (restore it, or rerun the stage "
                                   f"that writes it): {exc.msg}", exc.doc, exc.pos) from None
    expected = f"; expected {what}" if what else ""
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a JSON {_json_kind(data)}, not an object{expected}")
    for key, kind in (need or {}).items():
        if not isinstance(data.get(key), kind):
            found = "no" if key not in data else f"{_a(_json_kind(data[key]))} as its"
            raise ValueError(f"{path} has {found} {key!r} ({_a('JSON ' + _json_kind(kind()))} "
                             f"is needed){expected}")
    return data


def check_metrics_rows(metrics: Path, info: dict) -> None:
    """ValueError unless `metrics` (a run's metrics.csv) is UTF-8 text holding one whole row for
    each update its run.json `info` records: a file cut short (a disk that filled up, a copy
    that stopped) must not pass for a finished run. A run.json that records no update count is
    not checked; a missing file is the caller's FileNotFoundError."""
    updates = info.get("updates")
    if not isinstance(updates, int):
        return
    try:
        with open(metrics, encoding="utf-8", newline="") as fh:
            text = fh.read()
    except UnicodeDecodeError:
        raise ValueError(f"{metrics} is not UTF-8 text: the file is damaged; restore it (git "
                         "checkout, a copy)") from None
    if not text:
        raise ValueError(f"{metrics} is empty, but its run.json records {updates} updates: the "
                         "file is damaged; restore it (git checkout, a copy)")
    rows = max(text.count("\n") - 1, 0)
    if rows != updates or not text.endswith("\n"):
        cut = "" if text.endswith("\n") else " and a last row cut off"
        raise ValueError(f"{metrics} holds {rows} whole rows{cut}, but its run.json records "
                         f"{updates} updates: the file is damaged; restore it (git checkout, a "
                         "copy)")


def read_table(path):
    """A CSV table the harness wrote, as a pandas DataFrame; a file that is empty, not UTF-8 or
    not CSV is a ValueError in one line naming it (pandas' own messages name no file)."""
    import pandas as pd  # here, so that the trainer, which never reads a table, loads no pandas

    advice = "restore it, or rerun the stage that writes it"
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty: a table starts with its header; {advice}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text; {advice}") from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[0]
        raise ValueError(f"{path} is not a CSV table ({detail}); {advice}") from None


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def _json_kind(value) -> str:  # of a parsed value, or of a type's empty instance
    """The JSON name of a parsed value's type (object, array, string, number, ...)."""
    kinds = ((bool, "boolean"), (dict, "object"), (list, "array"), (str, "string"),
             ((int, float), "number"))
    return next((name for kind, name in kinds if isinstance(value, kind)), "null")


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
