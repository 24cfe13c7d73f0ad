"""One run, from the command line to a finished run folder: `train()`.

    jepa-bench train --config j1g1r0 --seed 0                 # 100k steps -> runs/j1g1r0/seed0
    jepa-bench train --config j1g0r0 --seed 3 --resume        # continue after a kill
    jepa-bench train --config j1g0r0 --seed 3 --resume --total-steps 200000   # extend a run
    jepa-bench train --config state --seed 0 --set lr=3e-4    # any TrainConfig field via --set

Owns: what a run folder means and how it is written (run.json, the CSVs and checkpoint the
trainer saves, the encoder snapshots, the writer lock), resuming and extending, stopping on
SIGINT / SIGTERM, the provenance of each session (`sessions` in run.json), the progress line and
the optional TensorBoard log. The update itself is jepa_bench.rl.trainer's; the
machine record jepa_bench.rl.machine's; file names jepa_bench.layout's.

A run folder holds run.json, metrics.csv (one row per update), episodes.csv (one row per finished
episode) and checkpoints/last.pt. The CSVs are rewritten atomically at every checkpoint, so they
always match the checkpoint a resumed run continues from.

What an existing folder means (`_prepare_folder`):
- no run there: a fresh run; with --resume a note on stderr says that nothing was resumed;
- a run there: refused without --resume or --force; --resume continues it when its config and
  seed are the ones asked, and extends it when only total_steps grows (the learning-rate
  schedule of an extended run is recorded in run.json, `lr_schedule`);
- --force deletes the run first, but never files tracked by git (committed results).
One process at a time writes a run folder: a second one waits for the first (an OS lock on
`.train.lock`, released when the process ends, even by SIGKILL). A run folder this call creates
and leaves without a run.json (bad input found after the lock was taken) is removed again.

Ctrl-C (SIGINT) or SIGTERM (what SLURM sends before it kills a job) stops a run cleanly: the
update under way is dropped, the state after the last complete update is written as the
checkpoint with its CSVs, run.json gets status 'interrupted', and `train` returns; `--resume`
continues from there to the same numbers as a run that was never stopped.

run.json records, besides what was run, when and from what code: `started_at` / `ended_at` (UTC,
ISO 8601), `git_rev`, `git_dirty` (uncommitted changes to the package's code) and
`git_diff_sha256`, and one entry per process that worked on the run in `sessions` (kept with
the checkpoint too, so a resume after Snakemake deleted run.json loses none). `compare`
ignores all of these.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch

from jepa_bench.config import DEFAULT_SETTINGS, TrainConfig, config_differences
from jepa_bench.layout import DEFAULT_RUNS_ROOT, RunPaths, run_dir
from jepa_bench.metrics import Progress, check_metrics_rows, read_json, write_json_atomic
from jepa_bench.rl.machine import (git_revision, git_state, machine_info, resolve_device,
                                   utc_now, versions)
from jepa_bench.errors import RunFolderError, TrainingDiverged
from jepa_bench.rl.trainer import CHECKPOINT_VERSION, Trainer

LOCK_FILE = ".train.lock"
LR_RULE = ("update u (0, 1, ...) uses lr * (1 - u / total_updates) when anneal_lr, lr otherwise; "
           "a run extended with --resume --total-steps keeps the updates it had and continues "
           "with total_updates of the new horizon, so each further update gets the lr a run of "
           "the new length would have had at that update")
TRACKERS = ("tensorboard",)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""The signals that stop a run cleanly (Ctrl-C; SLURM's and most schedulers' warning before a
kill): see the module docstring."""
ENCODER_SNAPSHOT_STEPS = (25_000, 50_000, 100_000)
"""Env steps at which every run keeps its x-encoder's weights (preregistered in
docs/trained-encoders.md), besides step 0 (before the first update) and its last step: the first
update that reaches each point writes RunPaths.encoder_snapshot(its env step)."""


def default_run_dir(config_name: str, seed: int, root: str | Path = DEFAULT_RUNS_ROOT) -> Path:
    """A run's folder is a function of (config, seed) only, never of the time; without --out
    it lies under ./runs/ (ignored by git), never under results/, which holds only what the
    pipeline wrote."""
    return run_dir(root, config_name, seed)

# --- the run folder -----------------------------------------------------------------------------

def tracked_files(folder: Path) -> list[str]:
    """Files in `folder` that git tracks (committed results); [] outside a git work tree."""
    if not folder.is_dir():
        return []
    try:
        out = subprocess.run(["git", "ls-files", "--", "."], cwd=folder, capture_output=True,
                             text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return []
    return out.stdout.split() if out.returncode == 0 else []


def _force_delete(paths: RunPaths) -> None:
    tracked = tracked_files(paths.root)
    if tracked:
        raise RunFolderError(f"run folder {paths.root} holds {len(tracked)} file(s) tracked by git "
                             f"(e.g. {tracked[0]}): --force never deletes committed results; "
                             "write to another --out (default: runs/{config}/seed{seed})")
    for p in paths.results():
        p.unlink(missing_ok=True)
    shutil.rmtree(paths.checkpoint.parent, ignore_errors=True)
    shutil.rmtree(paths.encoder_snapshot(0).parent, ignore_errors=True)


def _prepare_folder(paths: RunPaths, cfg: TrainConfig, seed: int, resume: bool, force: bool):
    """Decide what to do with an existing folder: ('fresh' | 'resume' | 'extend' | 'complete',
    the run.json found there or None)."""
    if not paths.run_json.exists():
        if paths.checkpoint.exists() and not (resume or force):
            raise RunFolderError(f"run folder {paths.root} holds a checkpoint; pass --resume to "
                                 "continue it or --force to start over")
        if force:
            _force_delete(paths)
        if resume and not force and paths.checkpoint.exists():
            return "resume", _checkpoint_record(paths, seed)
        if resume and not force:
            print(f"jepa-bench train: note: no run in {paths.root} to resume; starting a fresh "
                  "one", file=sys.stderr)
        return "fresh", None
    if force:
        _force_delete(paths)
        return "fresh", None
    info = read_run_json(paths)
    status = info.get("status", "unknown")
    if not resume:
        if status == "complete":
            raise RunFolderError(f"run folder {paths.root} already holds a complete run; "
                                 "pass --resume to keep it, or --out another folder")
        raise RunFolderError(f"run folder {paths.root} already holds a run (status {status!r}); "
                             "pass --resume to continue it or --force to start over")
    if info.get("seed", seed) != seed:
        raise RunFolderError(f"run folder {paths.root} holds seed {info['seed']}, not seed {seed}; "
                             "pass its seed to --resume it, or --out another folder")
    old = info.get("config") or {}
    diff = config_differences(old, cfg.to_dict())
    if diff == ["total_steps"]:
        before = old["total_steps"]
        if cfg.total_steps < before:
            raise RunFolderError(f"run folder {paths.root} has total_steps={before}; --resume "
                                 f"can extend a run, not shorten it to {cfg.total_steps}")
        if not paths.checkpoint.exists():
            raise RunFolderError(f"run folder {paths.root} has no checkpoint "
                                 f"({paths.checkpoint}) to extend from; --out another folder")
        return "extend", info
    if diff:
        raise RunFolderError(f"run folder {paths.root} was made with a different config "
                             f"(differs in: {', '.join(diff)}); --resume can change only a "
                             "growing total_steps; --out another folder")
    if status == "complete":
        try:
            check_metrics_rows(paths.metrics, info)
        except (OSError, ValueError) as exc:
            damage = (f"{paths.metrics} is missing" if isinstance(exc, FileNotFoundError)
                      else str(exc))
            way = (f"move {paths.run_json} aside and pass --resume to write its tables again "
                   f"from {paths.checkpoint}, or start over with --force"
                   if paths.checkpoint.is_file() else "start it over with --force")
            raise RunFolderError(f"run folder {paths.root} holds a complete run whose files are "
                                 f"damaged ({damage}): {way}") from None
        return "complete", info
    return ("resume", info) if paths.checkpoint.exists() else ("fresh", None)


def _checkpoint_record(paths: RunPaths, seed: int) -> dict | None:
    """The run.json written with the checkpoint, when it is a readable record of this seed
    (the earlier sessions of a run whose run.json was deleted); None otherwise."""
    try:
        info = read_json(paths.checkpoint_record)
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("seed") == seed else None


def _write_record(paths: RunPaths, info: dict) -> None:
    """run.json, and its copy beside the checkpoint when there is one (see
    RunPaths.checkpoint_record); both renamed into place."""
    write_json_atomic(paths.run_json, info)
    if paths.checkpoint.exists():
        write_json_atomic(paths.checkpoint_record, info)


def read_run_json(paths: RunPaths) -> dict:
    """A run folder's run.json, or one line naming it when it is not a JSON object (a disk that
    filled up, an edit gone wrong): the file is left as it is."""
    try:
        return read_json(paths.run_json)
    except ValueError as exc:  # not JSON, not UTF-8, or not an object
        reason = first_sentence(str(exc).replace(f"{paths.run_json} ", "", 1))
    aside = (f", or move it aside and pass --resume to continue from {paths.checkpoint}"
             if paths.checkpoint.is_file() else "")
    raise RunFolderError(f"run.json {paths.run_json} cannot be read ({reason}); it was left as "
                         f"it is: restore it (git checkout, a copy){aside}, or start the run over "
                         "with --force")


def first_sentence(text: str, limit: int = 160) -> str:
    """The first sentence of an error message's first line, whole; a longer one is cut at a
    word and marked with '...'."""
    line = (text.strip().splitlines() or [""])[0].strip()
    head, dot, _ = line.partition(". ")
    sentence = head + ("." if dot else "")
    if len(sentence) <= limit:
        return sentence
    return sentence[:limit].rsplit(" ", 1)[0] + " ..."


def _load_checkpoint(path: Path, dev: torch.device, what: str, advice: str) -> dict:
    """torch.load, with one line naming the file when it is truncated, empty or not ours, and
    `advice` saying what to do."""
    try:
        ckpt = torch.load(path, map_location=dev, weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file: re-raised as one line
        reason = first_sentence(str(exc)) or type(exc).__name__
        raise RunFolderError(f"{what} {path} cannot be read ({reason}); it was left as it "
                             f"is: {advice}") from None
    if not isinstance(ckpt, dict) or "agent" not in ckpt:
        raise RunFolderError(f"{what} {path} is not a jepa-bench checkpoint; it was left as it "
                             f"is: {advice}")
    return ckpt


RESUME_ADVICE = "restore it, or start the run over with --force"
INIT_ADVICE = "give --init-from the checkpoints/last.pt of a run that wrote one"


class _FolderLock:
    """One writer per run folder: an OS lock (flock) on the folder's .train.lock, held while the
    process lives; a second process waits for it (a pipeline rerun while a killed pipeline's
    orphaned run still trains). No-op where flock does not exist."""

    def __init__(self, folder: Path):
        self.fh = None
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not on POSIX
            return
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.fh = open(folder / LOCK_FILE, "a+")
        except OSError as exc:  # an output, not an input: say so
            raise RunFolderError(f"cannot use {folder} as the run folder: "
                                 f"{exc.strerror or exc}; choose a folder you can write with "
                                 "--out") from None
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.fh.seek(0)
            holder = self.fh.read().strip() or "another process"
            print(f"jepa-bench train: waiting for pid {holder}, which is writing {folder}",
                  file=sys.stderr, flush=True)
            fcntl.flock(self.fh, fcntl.LOCK_EX)
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(str(os.getpid()))
        self.fh.flush()

    def release(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class _Tracker:
    """Optional TensorBoard log of every metrics row (CleanRL's names), in {out}/tensorboard/."""

    def __init__(self, kind: str | None, folder: Path):
        self.writer = None
        if kind is None:
            return
        check_tracker(kind)
        self.writer = tensorboard_writer(folder / "tensorboard")

    def log(self, row: dict) -> None:
        if self.writer is None:
            return
        step = row["env_step"]
        names = {"episodic_return": "charts/episodic_return", "sps": "charts/SPS",
                 "lr": "charts/learning_rate", "embed_var": "charts/embed_var",
                 "embed_rank": "charts/embed_rank"}
        for key, value in row.items():
            if key in ("update", "env_step", "wall_time", "episodes") or value is None:
                continue
            self.writer.add_scalar(names.get(key, f"losses/{key}"), value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


NO_TENSORBOARD = ("--track tensorboard needs the tensorboard package: pip install tensorboard "
                  "(or pip install -e \".[track]\")")


def check_tracker(kind: str | None) -> None:
    """Before anything is written: is `kind` a tracker, and is its package there? One line if
    not."""
    import importlib.util

    if kind is None:
        return
    if kind not in TRACKERS:
        raise ValueError(f"track={kind!r} is not one of: {', '.join(TRACKERS)}")
    if importlib.util.find_spec("tensorboard") is None:
        raise ValueError(NO_TENSORBOARD)


def tensorboard_writer(folder: Path):
    """torch's SummaryWriter, or one line saying what to install."""
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ValueError(NO_TENSORBOARD) from None
    return SummaryWriter(str(folder))


def _stopped_early(cfg: TrainConfig, trainer: Trainer) -> bool:
    """Whether the last update crossed a collapse line the config stops at: embed_var below
    stop_embed_var, or embed_var relative to update 1's below stop_rel_var."""
    rows = trainer.metric_rows
    if not rows:
        return False
    last = rows[-1]["embed_var"]
    if cfg.stop_embed_var > 0 and last < cfg.stop_embed_var:
        return True
    first = rows[0]["embed_var"]
    return cfg.stop_rel_var > 0 and first > 0 and last / first < cfg.stop_rel_var


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived while a run trained (raised by the handler `_stop_signals` installs;
    a KeyboardInterrupt, so that code which catches Exception lets it through)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signal_name = signal.Signals(signum).name


@contextlib.contextmanager
def _stop_signals(handler):
    """SIGINT and SIGTERM call `handler` (signal.SIG_IGN: ignored) inside the block; the handlers
    before it afterwards. Only the main thread can set handlers: elsewhere it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in before.items():
            signal.signal(sig, signal.SIG_DFL if old is None else old)


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


def _snapshot(trainer: Trainer) -> dict:
    """The trainer's state now, as a checkpoint holds it, detached from the live state (tensors
    copied; the row lists copied, since a row is never changed once appended)."""
    state = trainer.state_dict()
    rows = {key: list(state.pop(key)) for key in ("metric_rows", "episode_rows")}
    return {**copy.deepcopy(state), **rows}


def _created_by(folder: Path) -> Path | None:
    """The outermost of `folder` and its parents that does not exist yet (what making `folder`
    creates); None if `folder` exists."""
    created = None
    for path in (folder, *folder.parents):
        if path.exists():
            break
        created = path
    return created


def _remove_if_unused(folder: Path, created: Path | None) -> None:
    """Undo making `folder` (up to `created`) when it holds nothing but the writer lock: a run
    refused after the lock was taken leaves no trace."""
    if created is None or not folder.is_dir():
        return
    if {p.name for p in folder.iterdir()} - {LOCK_FILE}:
        return
    (folder / LOCK_FILE).unlink(missing_ok=True)
    for path in (folder, *folder.parents):
        try:
            path.rmdir()
        except OSError:  # not empty (another writer), or gone
            return
        if path == created:
            return


def train(cfg: TrainConfig, seed: int, out_dir: str | Path, config_name: str = "custom",
          device: str = "auto", threads: int | None = None, resume: bool = False,
          force: bool = False, progress: bool = True, command: str | None = None,
          stop_after_updates: int | None = None, init_from: str | Path | None = None,
          settings: str | None = None, track: str | None = None,
          grad_diagnostic: bool = False) -> dict:
    """Train one run into `out_dir`; returns the final run.json content: status 'complete', or
    'interrupted' when SIGINT or SIGTERM stopped it (`interrupted_by` names the signal; the
    checkpoint holds the last complete update and --resume continues it).

    `init_from` starts a fresh run from the weights (all networks, not the optimiser) of another
    run's checkpoint, e.g. a collapsed encoder for the recovery experiment.

    `grad_diagnostic` logs DIAGNOSTIC_COLUMNS in metrics.csv (a run that had it keeps it when
    resumed); it does not change what the run computes.

    `stop_after_updates` ends the process early after that many updates in this call (used by
    tests to interrupt a run at a known point); the run stays 'running' and can be resumed."""
    if seed < 0:
        raise ValueError(f"seed={seed} must be >= 0")
    check_tracker(track)
    if init_from is not None and not Path(init_from).is_file():
        raise ValueError(f"--init-from {init_from}: no such file; {INIT_ADVICE} "
                         "(e.g. runs/j1g0r0/seed0/checkpoints/last.pt)")
    dev = resolve_device(device)
    if threads is not None:
        if threads <= 0:
            raise ValueError(f"threads={threads} must be a positive integer")
        torch.set_num_threads(threads)
    paths = RunPaths(Path(out_dir))
    created = _created_by(paths.root)
    with _stop_signals(_raise_interrupted):
        lock = _FolderLock(paths.root)
        try:
            return _train(cfg, seed, paths, dev, config_name=config_name, resume=resume,
                          force=force, progress=progress, command=command,
                          stop_after_updates=stop_after_updates, init_from=init_from,
                          settings=settings, track=track, grad_diagnostic=grad_diagnostic)
        finally:
            lock.release()
            _remove_if_unused(paths.root, created)


def _lr_segments(old_info: dict | None, trainer: Trainer, cfg: TrainConfig) -> list[dict]:
    """run.json's lr_schedule segments: those recorded, and one more when this call starts a
    new horizon."""
    segments = list(((old_info or {}).get("lr_schedule") or {}).get("segments") or [])
    if not segments and trainer.update > 0:  # a run from before lr_schedule was recorded
        segments = [{"first_update": 0,
                     "total_updates": (old_info or {}).get("total_updates", cfg.num_updates)}]
    if not segments or segments[-1]["total_updates"] != cfg.num_updates:
        segments.append({"first_update": trainer.update, "total_updates": cfg.num_updates})
    return segments


def _provenance(old_info: dict | None, trainer: Trainer) -> dict:
    """run.json's record of when and from what code: this session appended to the earlier
    ones; started_at is the first session's start, git_dirty whether any session's code had
    uncommitted changes (None: no session could tell)."""
    session = {"started_at": utc_now(), "ended_at": None, "end": None,
               "first_update": trainer.update, "git_rev": git_revision(), **git_state()}
    sessions = list((old_info or {}).get("sessions") or []) + [session]
    flags = [s.get("git_dirty") for s in sessions]
    dirty = True if True in flags else (False if False in flags else None)
    return {"started_at": (old_info or {}).get("started_at") or session["started_at"],
            "ended_at": None, "git_rev": session["git_rev"], "git_dirty": dirty,
            "git_diff_sha256": session["git_diff_sha256"], "sessions": sessions}


def _end_session(info: dict, how: str) -> None:
    """Stamp the end of this session (and of the run so far) into `info`."""
    info["ended_at"] = info["sessions"][-1]["ended_at"] = utc_now()
    info["sessions"][-1]["end"] = how


def _train(cfg: TrainConfig, seed: int, paths: RunPaths, dev: torch.device, *, config_name: str,
           resume: bool, force: bool, progress: bool, command: str | None,
           stop_after_updates: int | None, init_from, settings: str | None, track: str | None,
           grad_diagnostic: bool) -> dict:
    action, old_info = _prepare_folder(paths, cfg, seed, resume, force)
    started_from = (old_info or {}).get("init_from")
    if init_from is not None and action != "fresh" and old_info is not None and (
            not started_from or Path(started_from).resolve() != Path(init_from).resolve()):
        raise RunFolderError(f"--init-from {init_from}: the run in {paths.root}, which --resume "
                             "continues, was started "
                             + (f"from {started_from}" if started_from else "from scratch")
                             + "; drop --init-from, or --out another folder")
    if action == "complete":
        return old_info
    tracker = _Tracker(track, paths.root)

    grad_diagnostic = bool(grad_diagnostic or (old_info or {}).get("grad_diagnostic"))
    trainer = Trainer(cfg, seed, dev, grad_diagnostic=grad_diagnostic)
    if action in ("resume", "extend"):
        ckpt = _load_checkpoint(paths.checkpoint, dev, "checkpoint", RESUME_ADVICE)
        saved = dict(ckpt.get("config") or {})
        grown = saved.get("total_steps", 0) <= cfg.total_steps
        saved["total_steps"] = cfg.total_steps
        # a field the checkpoint predates counts as its default (config_differences)
        if ckpt.get("version") != CHECKPOINT_VERSION or config_differences(saved, cfg.to_dict()) \
                or ckpt.get("seed") != seed or not grown:
            raise RunFolderError(f"checkpoint {paths.checkpoint} does not match this run "
                                 "(config, seed or format); use --force to start over")
        trainer.load_state_dict(ckpt)
    elif init_from is not None:
        source = _load_checkpoint(Path(init_from), dev, "--init-from", INIT_ADVICE)
        try:
            trainer.agent.load_state_dict(source["agent"])
        except (KeyError, RuntimeError) as exc:
            raise RunFolderError(f"--init-from {init_from}: weights do not fit this "
                                 f"configuration ({first_sentence(str(exc))})") from None
    segments = _lr_segments(old_info, trainer, cfg)

    info = {
        "config_name": config_name, "seed": seed, "settings": settings or DEFAULT_SETTINGS,
        "config": cfg.to_dict(), "status": "running",
        "env_steps": trainer.global_step, "updates": trainer.update,
        "total_updates": cfg.num_updates, "device": str(dev),
        "precision": trainer.agent.precision,
        "threads": torch.get_num_threads(), "versions": versions(),
        **_provenance(old_info, trainer),
        "machine": machine_info(),
        "command": command or " ".join(sys.argv), "error": None,
        "init_from": str(init_from) if init_from is not None else None,
        "grad_diagnostic": grad_diagnostic,
        "lr_schedule": {"rule": LR_RULE, "anneal_lr": cfg.anneal_lr, "segments": segments},
    }
    if old_info and old_info.get("command") and action == "extend":
        info["commands"] = old_info.get("commands", [old_info["command"]]) + [info["command"]]
    elif old_info and old_info.get("commands"):
        info["commands"] = old_info["commands"]
    label = f"{config_name}/seed{seed}"
    bar = Progress(cfg.num_updates * cfg.batch_size, label, enabled=progress)
    done_here = 0
    started = time.monotonic()
    last_good = None  # the state after the last complete update: what a stop signal keeps
    try:
        last_good = _snapshot(trainer)
        _write_record(paths, info)
        if trainer.update == 0:  # the encoder at initialisation (or as --init-from loaded it)
            trainer.save_encoder(paths)
        while trainer.update < cfg.num_updates and not _stopped_early(cfg, trainer):
            before = trainer.global_step
            row = trainer.step()
            last_good = _snapshot(trainer)
            done_here += 1
            last = trainer.update == cfg.num_updates or _stopped_early(cfg, trainer)
            if last or any(before < s <= trainer.global_step for s in ENCODER_SNAPSHOT_STEPS):
                trainer.save_encoder(paths)
            tracker.log(row)
            recent = [e["return"] for e in trainer.episode_rows[-20:]]
            elapsed = time.monotonic() - started
            eta = elapsed / done_here * (cfg.num_updates - trainer.update)
            bar.label = f"{label} [elapsed {_clock(elapsed)}, ETA {_clock(eta)}]"
            bar.update(trainer.global_step, row["sps"],
                       sum(recent) / len(recent) if recent else None, row["embed_var"])
            if last or trainer.update % cfg.checkpoint_every == 0:
                trainer.save(paths)
                info.update(env_steps=trainer.global_step, updates=trainer.update)
                _write_record(paths, info)
            if stop_after_updates is not None and done_here >= stop_after_updates and not last:
                bar.close()
                tracker.close()
                return info
    except TrainingDiverged as exc:
        bar.close()
        tracker.close()
        trainer.write_csvs(paths)  # every row finished before the failure
        info.update(status="failed", error=str(exc), env_steps=trainer.global_step,
                    updates=trainer.update)
        _end_session(info, "failed")
        _write_record(paths, info)
        raise
    except KeyboardInterrupt as exc:
        if last_good is None:  # stopped before anything was written
            raise
        with _stop_signals(signal.SIG_IGN):  # a second Ctrl-C must not cut the save short
            bar.close()
            tracker.close()
            trainer.load_state_dict(last_good)  # the update under way is dropped
            trainer.save(paths)
            how = getattr(exc, "signal_name", "SIGINT")
            info.update(status="interrupted", interrupted_by=how, env_steps=trainer.global_step,
                        updates=trainer.update)
            _end_session(info, f"interrupted ({how})")
            _write_record(paths, info)
        return info
    bar.close()
    tracker.close()
    if done_here == 0:  # resumed a finished checkpoint whose CSVs were deleted: write them back
        trainer.write_csvs(paths)
    info.update(status="complete", env_steps=trainer.global_step, updates=trainer.update,
                wall_time=round(trainer.wall_time, 3))
    _end_session(info, "complete")
    _write_record(paths, info)
    return info
