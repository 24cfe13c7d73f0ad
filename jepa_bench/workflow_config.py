"""Checks of the Snakemake workflow's config, shared by workflow/rules/common.smk, the command
line (a subcommand's --spec: `section_error`) and the tests.

Snakemake's own `validate` reports a bad value as a multi-line jsonschema dump that does not name
the key; `config_error` gives the first problem as one line, `config total_steps=0 is not
allowed: must be >= 1 ...`. `seeds_from_command_line` accepts `snakemake --config seeds=[0,1]`,
whose items Snakemake hands over as strings. `manifest_error` / `write_manifest`: one results
folder holds one experiment ({results_root}/experiment.json). `runs_root_error`: run folders the
pipeline would reuse (a runs_root shared with another preset) that were made with other
settings. `folders_error`: a results_root or runs_root that is a file. `device_error`:
device=cuda on a machine without CUDA. `clear_stale_locks`: a killed
Snakemake's locks do not block the rerun. `sync_commit_times`: committed outputs in a fresh clone
are not older than their committed inputs, so Snakemake does not redo them.
common.smk prints any of these errors as one line and exits with status 2.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from jepa_bench.gitrepo import git
from jepa_bench.metrics import atomic_write_text


SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"
"""The workflow's config schema, where the package sits in its repository (an editable install,
as both set-up commands make)."""


def load_schema(path: str | Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def section_error(key: str, value, schema_path: str | Path = SCHEMA) -> str | None:
    """The first way `value`, one section of a workflow config on its own (a subcommand's
    --spec), breaks the schema's rules for `key`, as one line; None when it keeps them, or when
    no schema lies beside the package to check it with."""
    if not Path(schema_path).is_file():
        return None
    schema = load_schema(schema_path)
    section = {"$defs": schema.get("$defs", {}), "type": "object",
               "properties": {key: schema["properties"][key]}}
    return config_error({key: value}, section)


def seeds_from_command_line(seeds):
    """`--config seeds=[0,1]` arrives as ['0', '1']: read integer strings (a sign too, so that
    `seeds=[-1]` is reported as below the minimum) as the integers they spell; anything else is
    returned unchanged for the schema to reject."""
    if not isinstance(seeds, list):
        return seeds
    return [int(s) if isinstance(s, str) and re.fullmatch(r"\s*[-+]?\d+\s*", s) else s
            for s in seeds]


def config_error(config: dict, schema: dict) -> str | None:
    """The first way `config` breaks `schema`, as one line naming the key and value; None if
    it is valid. Errors are taken in key order so the message does not depend on dict order. A
    config the schema takes has its train_overrides checked as `--set` items last."""
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:
        return _train_overrides_error(config) or _probe_configs_error(config)
    err = errors[0]
    path = list(err.absolute_path)
    if err.validator == "additionalProperties":
        known = set(err.schema.get("properties", {}))
        unknown = sorted(k for k in err.instance if k not in known)
        where = "config" + "".join(f"[{p}]" for p in path)
        return (f"{where} key {', '.join(map(repr, unknown))} is not known: allowed keys are "
                f"{', '.join(sorted(known))}")
    if not path:
        return f"config is not allowed: {err.message}"
    key = str(path[0]) + "".join(f"[{p}]" for p in path[1:])
    allowed = err.schema.get("description") if isinstance(err.schema, dict) else None
    message = _minimum_message(err) or err.message
    if err.validator == "not" and allowed:  # a combination the schema rules out: say why
        return f"config {key}={err.instance!r} is not allowed: {allowed}"
    if err.validator == "enum":
        message = f"allowed values are {', '.join(map(str, err.validator_value))}"
    hint = f" ({allowed})" if allowed and err.validator != "enum" else ""
    return f"config {key}={err.instance!r} is not allowed: {message}{hint}"


WORKFLOW_KEYS = {"renderer": "config renderer"}
"""TrainConfig fields the workflow passes to every `jepa-bench train` as an option of their own
(`--renderer`), which wins over a `--set` item: field -> the config key to set instead."""


def _train_overrides_error(config: dict) -> str | None:
    """train_overrides through the one check of `--set` items (jepa_bench.config.parse_overrides),
    at parse time for every experiment: an unknown key, a bad value, a switch the configuration's
    name fixes, total_steps or renderer (which config total_steps and config renderer set: the
    --set item would be ignored)."""
    from jepa_bench.config import parse_overrides

    try:
        overrides = parse_overrides(config.get("train_overrides"))
    except ValueError as exc:
        return f"config train_overrides={config['train_overrides']!r} is not allowed: {exc}"
    for key in overrides:
        if key in WORKFLOW_KEYS:
            return (f"config train_overrides={config['train_overrides']!r} is not allowed: "
                    f"{key} is set by {WORKFLOW_KEYS[key]} (every training gets "
                    f"--{key} from it, which a --set {key} item cannot change)")
    return None


def _probe_configs_error(config: dict) -> str | None:
    """probe_configs must name pixel configurations: the probe regresses the state on frames
    (jepa_bench.rl.probe), so a state-input configuration fails only when its job runs."""
    from jepa_bench.config import get_config

    names = config.get("probe_configs") or []
    state = [n for n in names if get_config(n).overrides.get("obs_type", "pixels") != "pixels"]
    if state:
        return (f"config probe_configs={names!r} is not allowed: {', '.join(state)} "
                f"{'reads' if len(state) == 1 else 'read'} the state, not pixels; the probe "
                "needs a pixel configuration")
    return None


# --- negative seeds and the schema's minimums --------------------------------------------------

def _minimum_message(err) -> str | None:
    if err.validator == "minimum":
        return f"must be >= {err.validator_value}"
    if err.validator == "exclusiveMinimum":
        return f"must be > {err.validator_value}"
    return None


# --- the experiment manifest: one results folder holds one experiment --------------------------
# {results_root}/experiment.json records what the pipeline was asked to build there (the keys
# below, device-independent). common.smk compares the asked config with it at parse time and
# stops, in one line, when they differ; Snakemake alone cannot see that a committed output was
# made under another config (it has no metadata for files that came with a clone).

MANIFEST = "experiment.json"
MANIFEST_FORMAT = 1
_RUN_KEYS = ("settings", "renderer", "train_overrides")
_EXPERIMENT_KEYS = {
    "figure3": ("configurations", "seeds", "total_steps", "runs_root"),
    "curves": ("configurations", "seeds", "total_steps", "runs_root"),
    "precision": ("configurations", "seeds", "total_steps"),
    "recovery": ("seeds", "recovery_algorithms", "recovery_configs", "recovery_collapse_steps",
                 "recovery_steps", "recovery_collapse_threshold", "recovery_threshold"),
    "recovery_shared": ("seeds", "recovery_shared_algorithms", "recovery_shared_configs",
                        "recovery_shared_settings", "recovery_shared_collapse_steps",
                        "recovery_shared_steps", "recovery_shared_collapse_rel",
                        "recovery_shared_collapse_threshold", "recovery_shared_rel",
                        "recovery_shared_threshold"),
    "theory": (),
    "calibration": ("calibration",),
    "probe": ("probe_configs", "probe_seeds"),
    "settings": ("compare_settings",),
    "sensitivity": ("configurations", "seeds", "total_steps", "sensitivity"),
    "trained_encoders": ("configurations", "seeds", "total_steps", "runs_root"),
    "yu_chen": ("yu_chen",),
}
# outputs that show a results folder was written by the pipeline before manifests existed
_LEGACY_OUTPUTS = ("summary/summary.json", "claims.json", "recovery.json", "theory.md",
                   "calibration.md", "probe", "runs", "recovery", "probe.md", "settings.md")


def experiment_manifest(config: dict, runs_root: str) -> dict:
    """What `config` asks the pipeline to build in its results_root: the keys that define the
    experiments it lists (runs_root as resolved), not the device or the machine settings."""
    experiments = list(config["experiments"])
    keys = ["experiments"]
    if {"figure3", "curves", "recovery", "recovery_shared", "precision", "sensitivity",
            "trained_encoders"} & set(experiments):
        keys += _RUN_KEYS
    for name in experiments:
        keys += [k for k in _EXPERIMENT_KEYS[name] if k not in keys]
    values = {**config, "runs_root": runs_root}
    return {"format": MANIFEST_FORMAT, **{k: values[k] for k in keys}}


def legacy_manifest(results_root: str | Path) -> dict | None:
    """For a results folder that has outputs but no manifest (written before manifests
    existed): what those outputs record. The Figure 3 summary records configurations, seeds,
    total_steps and runs_root; its first run's run.json the renderer and settings set (a run
    without one was made with 'v1'). None if the folder holds no pipeline output."""
    root = Path(results_root)
    if not any((root / name).exists() for name in _LEGACY_OUTPUTS):
        return None
    found: dict = {}
    summary = root / "summary" / "summary.json"
    if summary.is_file():
        data = json.loads(summary.read_text(encoding="utf-8"))
        found.update({k: data[k] for k in ("configurations", "seeds", "total_steps", "runs_root")
                      if k in data})
        found["settings"] = data.get("settings") or "v1"
        if data.get("configurations") and data.get("seeds") and data.get("runs_root"):
            run = (Path(data["runs_root"]) / data["configurations"][0]
                   / f"seed{data['seeds'][0]}" / "run.json")
            if run.is_file():
                info = json.loads(run.read_text(encoding="utf-8"))
                found["settings"] = info.get("settings") or "v1"
                if "renderer" in (info.get("config") or {}):
                    found["renderer"] = info["config"]["renderer"]
    return found


def _additions_only(old, new) -> bool:
    """True when `new` only adds to `old`: new dict keys, new list items (the calibration of
    docs/calibration.md grows stage by stage, cell by cell and seed by seed in one folder)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return all(k in new and _additions_only(v, new[k]) for k, v in old.items())
    if isinstance(old, list) and isinstance(new, list) and old and not isinstance(old[0], dict):
        return all(item in new for item in old)
    return old == new


def manifest_differences(stored: dict, asked: dict) -> list[str]:
    """Keys in which the asked manifest differs from the stored one, sorted. Only keys both
    record are compared (a legacy manifest records fewer), except `experiments`; `calibration`
    may grow (new stages, cells and seeds), `experiments` (a new report on the same runs) and
    `yu_chen` (more reports gathered) too, but none may change."""
    diffs = []
    for key in sorted(set(stored) & set(asked) - {"format"}):
        old, new = stored[key], asked[key]
        if key in ("calibration", "experiments", "yu_chen") and _additions_only(old, new):
            continue
        if old != new:
            diffs.append(key)
    if "experiments" in stored and "experiments" not in asked:  # pragma: no cover - always set
        diffs.append("experiments")
    return diffs


def manifest_error(config: dict, runs_root: str) -> str | None:
    """One line if the results folder of `config` holds an experiment made under another
    config; None if it is new, legacy-compatible or the same experiment."""
    root = Path(config["results_root"])
    path = root / MANIFEST
    asked = experiment_manifest(config, runs_root)
    if path.is_file():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            return (f"{path} cannot be read ({exc}); it records which experiment "
                    f"{root}/ holds: restore it, or write to a fresh folder with "
                    f"--config results_root=...")
        where = str(path)
    else:
        stored = legacy_manifest(root)
        if stored is None:
            return None
        where = f"the outputs already in {root}/"
    diffs = manifest_differences(stored, asked)
    if not diffs:
        return None
    shown = "; ".join(f"{k} {stored[k]!r} -> {asked[k]!r}" for k in diffs)
    return (f"config differs from the experiment in {root}/ ({where}) in: {shown}. One folder "
            f"holds one experiment: write this one to a fresh folder, e.g. --config "
            f"results_root=results/<name> (or delete {root}/ if you mean to replace it)")


def write_manifest(config: dict, runs_root: str) -> Path:
    """Write the manifest of `config` into its results folder (atomically) if none is there, or
    if the one there records less (an experiment or report added since: manifest_error let it
    pass, and the record follows)."""
    path = Path(config["results_root"]) / MANIFEST
    asked = experiment_manifest(config, runs_root)
    stored = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    if stored != asked and (stored is None or not manifest_differences(stored, asked)):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asked, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    return path


# --- run folders shared between presets --------------------------------------------------------
# Snakemake reuses a run folder that exists (it has no metadata for files it did not write), so a
# runs_root that another preset filled with other settings (steps, overrides, settings set) would
# be taken as it is; only the aggregate would notice, after the manifest had been written.

def folders_error(config: dict, runs_root: str) -> str | None:
    """One line when results_root or runs_root (`runs_root`, the folder it resolves to) is, or
    lies inside, something that is not a folder; None when each is a folder or can be made."""
    runs_key = "runs_root" if config.get("runs_root") else "runs_root (results_root/runs)"
    for key, folder in (("results_root", config["results_root"]), (runs_key, runs_root)):
        path = Path(folder)
        there = next((p for p in (path, *path.parents) if p.exists()), None)
        if there is not None and not there.is_dir():
            where = "is" if there == path else f"lies inside {there}, which is"
            return (f"config {key}={folder!r} is not allowed: it {where} a file, not a folder; "
                    "give a folder (it is made when missing)")
    return None


RUN_EXPERIMENTS = ("figure3", "curves")
"""The experiments whose runs live in {runs_root}/{configuration}/seed{seed}."""


def runs_root_error(config: dict, runs_root: str) -> str | None:
    """One line when a run folder the Figure 3 runs would reuse under `runs_root` was made with
    another config than `config` asks (configuration, settings set, renderer, train_overrides,
    total_steps); None when every existing one matches or none exists. Advises a runs_root of
    its own, never deleting what is there (it may be committed reference runs)."""
    if not set(RUN_EXPERIMENTS) & set(config["experiments"]):
        return None
    from jepa_bench.config import config_differences, parse_overrides, resolve
    from jepa_bench.layout import RunPaths

    try:
        overrides = {**parse_overrides(config["train_overrides"]),
                     "total_steps": config["total_steps"], "renderer": config["renderer"]}
        wanted = {name: resolve(name, overrides, settings=config["settings"]).to_dict()
                  for name in config["configurations"]}
    except ValueError as exc:
        return f"config train_overrides={config['train_overrides']!r} is not allowed: {exc}"
    results = Path(config["results_root"])
    advice = ("write this experiment to a fresh folder, e.g. --config results_root=results/<name>"
              if Path(runs_root) == results / "runs" else
              f"give this experiment runs of its own, e.g. --config runs_root={results}/runs")
    stale = []
    for name, want in wanted.items():
        for seed in config["seeds"]:
            path = RunPaths.of(runs_root, name, seed).run_json
            if not path.is_file():
                continue
            try:
                have = json.loads(path.read_text(encoding="utf-8")).get("config") or {}
            except (OSError, ValueError, AttributeError) as exc:
                return (f"{path} cannot be read ({exc}); the pipeline would reuse that run "
                        f"folder: restore it (git checkout, a copy), or {advice}")
            diff = config_differences(have, want)
            if diff:
                stale.append((path.parent, diff, have, want))
    if not stale:
        return None
    folder, diff, have, want = stale[0]
    shown = ", ".join(f"{k}={have.get(k, want.get(k))!r} (asked: {want[k]!r})" for k in diff[:3])
    more = f" and {len(diff) - 3} more field(s)" if len(diff) > 3 else ""
    return (f"runs_root {runs_root} holds {len(stale)} run folder(s) made with other settings "
            f"than this config asks, which the pipeline would reuse instead of training: "
            f"{folder} has {shown}{more}; {advice}")


# --- device -------------------------------------------------------------------------------------

def requested_executor(argv: list[str]) -> str:
    """The executor a Snakemake command line asks for: `--executor X` / `-e X`, or `executor:` in
    a profile it names (`--profile`, `--workflow-profile`); 'local' otherwise."""
    profiles = []
    for i, arg in enumerate(argv):
        name, eq, value = arg.partition("=")
        if name in ("--executor", "-e"):
            return value if eq else (argv[i + 1] if i + 1 < len(argv) else "local")
        if name in ("--profile", "--workflow-profile"):
            profiles.append(value if eq else (argv[i + 1] if i + 1 < len(argv) else ""))
    for profile in profiles:
        for fname in ("config.yaml", "profile.yaml"):
            path = Path(profile) / fname
            if path.is_file():
                settings = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
                if settings.get("executor"):
                    return str(settings["executor"])
    return "local"


def device_error(config: dict, argv: list[str]) -> str | None:
    """`device: cuda` on a machine without CUDA, for jobs that run on this machine (a cluster
    executor's jobs run elsewhere, where the training command itself checks)."""
    if config.get("device") != "cuda" or requested_executor(argv) not in ("local", "dryrun"):
        return None
    import torch

    if torch.cuda.is_available():
        return None
    return ("config device='cuda' is not allowed: torch.cuda.is_available() is False on this "
            "machine; use device=auto or device=cpu (or a cluster profile whose nodes have CUDA)")


# --- stale Snakemake locks ----------------------------------------------------------------------
_HELD = []  # the open lock file of this process, kept for its lifetime


def folder_lock_held() -> bool:
    """Whether this process holds the lock `clear_stale_locks` takes: no other Snakemake of this
    folder is running."""
    return bool(_HELD)


def clear_stale_locks(snakemake_dir: str | Path = ".snakemake") -> bool:
    """Remove Snakemake's directory locks when no other Snakemake of this folder is alive.

    Every Snakemake process that parses the workflow holds an OS lock (flock) on
    .snakemake/jepa-bench.lock for its lifetime; the OS drops it when the process dies, even by
    SIGKILL. Whoever gets that lock knows that no other such process is running, so locks left
    in .snakemake/locks/ are stale: a killed pipeline then continues without `--unlock`.
    Returns whether stale locks were removed. Without flock (Windows) it does nothing."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX
        return False
    folder = Path(snakemake_dir)
    folder.mkdir(parents=True, exist_ok=True)
    fh = open(folder / "jepa-bench.lock", "a")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return False
    _HELD.append(fh)
    stale = [p for p in (folder / "locks").glob("*") if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return bool(stale)


def sync_commit_times(paths=("results",), repo: str | Path = ".",
                      stamp: str | Path = ".snakemake/jepa-bench-commit-times") -> int | None:
    """Give every committed file under `paths` that is unchanged in the working tree the time of
    the last commit that changed it, once per checked-out commit. Returns how many files were
    set, or None when nothing was done (not a git work tree, no git, or already done for HEAD).

    Snakemake reruns a job whose input is newer than its output. Git writes a checkout's files
    in path order, not in the order the pipeline made them, so in a fresh clone (or after a
    pull) a committed output can look older than its committed input: `recovery/a2c/grad_on/`
    is written before `recovery/collapse/`, and the recovery preset would retrain ten runs that
    are already there. With commit times an output committed with or after its inputs is never
    older than they are. Files with uncommitted changes keep their own times, and the stamp
    (the HEAD it was done for) keeps a later `touch` meant to force a rerun in effect until the
    next commit or checkout. Must not change any file's content."""
    repo = Path(repo)
    stamp = repo / stamp
    head = git("rev-parse", "HEAD", folder=repo)
    if head is None:
        return None
    head = head.decode().strip()
    if stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == head:
        return None
    top = git("rev-parse", "--show-toplevel", folder=repo)
    tracked = git("ls-files", "--full-name", "-z", "--", *paths, folder=repo)
    changed = git("diff", "--name-only", "HEAD", "--", *paths, folder=repo)
    history = git("log", "--format=%x01%ct", "--name-only", "--no-renames", "--", *paths,
                  folder=repo)
    if top is None or tracked is None or changed is None or history is None:
        return None
    top = Path(top.decode().strip())
    tracked = set(tracked.decode().split("\0"))
    changed = set(changed.decode().splitlines())
    latest: dict[str, int] = {}
    when = 0
    for line in history.decode().splitlines():
        if line.startswith("\x01"):
            when = int(line[1:])
        elif line and line not in latest:
            latest[line] = when  # the log runs newest first
    count = 0
    for rel, when in latest.items():
        path = top / rel
        if rel not in tracked or rel in changed or not path.is_file():
            continue  # an untracked file where a deleted one was: its own time stands
        os.utime(path, (when, when))
        count += 1
    # git's index keeps each file's time: refresh it, or every later `git status` rereads them
    git("update-index", "-q", "--refresh", folder=repo)
    atomic_write_text(stamp, head + "\n")
    return count
