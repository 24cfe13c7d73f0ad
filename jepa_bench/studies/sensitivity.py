"""The sensitivity study of docs/sensitivity.md: which verdicts hold when one unstated setting moves.

    points = sweep_points(config["sensitivity"], configurations)   # the preregistered points
    roots = point_run_roots(points[1], "results/sensitivity", configurations)
    check_point_runs(points[1], roots, seeds, total_steps, settings)
    result = robustness_result("results/sensitivity", points, done, configurations, seeds)
    write_robustness_report("results/sensitivity/robustness.md", result)

A point changes one setting (TrainConfig fields as ``key=value``, the same for every
configuration it re-runs) away from the centre, settings set ``v2``; a configuration the point
does not re-run is taken from the centre's runs (the protocol says which and why). Each point is
an ordinary Figure 3 experiment in ``{root}/{point}/``: runs, summary tables, claims.md. This
module owns the points' specification, which run folder each (point, configuration) reads, the
check that a point's runs are what the protocol asked, and the study's own outputs: the
robustness table (claim by claim, point by point), the scale-free collapse indicator, the
central contrast J,∇,R̂ minus Ĵ,∇,R̂, the gradient shares of Eq. 3's terms and the heads' clip
factor, and the centre set beside the committed record (by CPU kind; same-kind pairs through
jepa_bench.analysis.compare). It must not
train, and must not change a claim's criterion: the claims are jepa_bench.analysis.claims',
evaluated unchanged on each point's summary. No torch.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from jepa_bench.analysis.aggregate import SUMMARY_FILES, check_run_config, read_summary
from jepa_bench.analysis.compare import compare_runs
from jepa_bench.analysis.stats import bootstrap_difference, describe_sample
from jepa_bench.analysis.verdicts import sci, write_report
from jepa_bench.config import PAPER_CONFIGS, config_differences, parse_overrides
from jepa_bench.gitrepo import first_commit, is_ancestor
from jepa_bench.layout import RunPaths
from jepa_bench.metrics import DIAGNOSTIC_COLUMNS, markdown_table, read_json, read_table

__all__ = ["CENTRE", "CONTRAST", "GRAD_TERMS", "PROTOCOL", "RELATIVE_COLLAPSE", "SweepPoint",
           "check_point_runs", "configuration_fields", "contrast_table", "gradient_table",
           "heads_clip_factor", "point_run_files", "point_run_roots", "points_through",
           "preregistration", "record_against_centre", "record_run_files", "robustness",
           "robustness_result", "scale_free_table", "sweep_points", "write_robustness_report"]

CENTRE = "centre"
"""The name of the centre point: settings set v2 unchanged, every configuration run."""
UNKNOWN_CPU = "unknown CPU"
"""How the reports name the CPU of a run whose run.json does not record it."""
PROTOCOL = "docs/sensitivity.md"
"""The preregistration, relative to the repository's top: committed before the first run."""
RELATIVE_COLLAPSE = 1e-4
"""The scale-free collapse line: min embed_var / embed_var at update 1 (docs/sensitivity.md)."""
CONTRAST = ("j1g1r0", "j0g1r0")
"""The central contrast of claim 2: J,∇,R̂ minus Ĵ,∇,R̂."""
GRAD_TERMS = tuple(c for c in DIAGNOSTIC_COLUMNS if c.startswith("grad_enc_"))
SWITCHES = ("jepa", "rl_grad", "var_reg")
INERT_WITHOUT_JEPA = ("jepa_coef",)
"""Fields that do not enter the objective of a configuration whose J is off (its predictor is
a diagnostic trained from detached embeddings), so a reused Ĵ run may differ in them."""


@dataclass(frozen=True)
class SweepPoint:
    """One point of the sweep: its name (a folder), its axis, the TrainConfig overrides
    (``key=value``) it applies and the configurations it re-runs (the others: the centre's)."""

    name: str
    axis: str
    overrides: tuple[str, ...]
    rerun: tuple[str, ...]

    @property
    def values(self) -> dict:
        """The overrides as typed TrainConfig values."""
        return parse_overrides(list(self.overrides))


def sweep_points(spec: Mapping, configurations: Sequence[str]) -> list[SweepPoint]:
    """The preregistered points, in their order, from the workflow's ``sensitivity`` config:
    ``{"points": [{"name", "axis", "set": [...], "rerun": [...] (default: all)}, ...]}``.
    The first point must be the centre, with nothing set and every configuration run.
    ValueError, in one line, for anything else."""
    points, seen = [], set()
    for i, item in enumerate(spec.get("points") or []):
        name = str(item.get("name", ""))
        if not name or "/" in name or name in seen:
            raise ValueError(f"sensitivity point {i}: name={name!r} must be a new folder name")
        seen.add(name)
        rerun = tuple(item.get("rerun") or configurations)
        stray = [c for c in rerun if c not in configurations]
        if stray:
            raise ValueError(f"sensitivity point {name!r}: rerun {stray} is not among the "
                             f"configurations {list(configurations)}")
        point = SweepPoint(name, str(item.get("axis", name)), tuple(item.get("set") or ()),
                           rerun)
        try:
            point.values  # noqa: B018  (the keys and values are checked here)
        except ValueError as exc:
            raise ValueError(f"sensitivity point {name!r}: {exc}") from None
        points.append(point)
    if not points or points[0].name != CENTRE or points[0].overrides \
            or set(points[0].rerun) != set(configurations):
        raise ValueError(f"the first sensitivity point must be {CENTRE!r}, with nothing set and "
                         "every configuration run")
    return points


def points_through(points: Sequence[SweepPoint], through: str | None, *,
                   given_as: str) -> list[SweepPoint]:
    """The points up to and including `through`, in the preregistered order (all if None);
    `given_as` names `through` as the user gave it, for the one-line error: the workflow's
    "config sensitivity_through", the command line's "--through"."""
    names = [p.name for p in points]
    if through is None:
        return list(points)
    if through not in names:
        raise ValueError(f"{given_as}={through!r} is not one of: {', '.join(names)}")
    return list(points[:names.index(through) + 1])


def point_run_roots(point: SweepPoint, root: str | os.PathLike,
                    configurations: Sequence[str]) -> dict[str, Path]:
    """The runs root each configuration of `point` is read from: ``{root}/{point}/runs`` for the
    configurations it re-runs, ``{root}/centre/runs`` for the others."""
    root = Path(root)
    return {c: root / (point.name if c in point.rerun else CENTRE) / "runs"
            for c in configurations}


def point_run_files(point: SweepPoint, root: str | os.PathLike, configurations: Sequence[str],
                    seeds: Sequence[int], kind: str = "run_json") -> list[str]:
    """Every run file (RunPaths attribute `kind`) a point's summary reads, for a workflow rule's
    input: its own runs, and the centre's for the configurations it does not re-run."""
    roots = point_run_roots(point, root, configurations)
    return [str(getattr(RunPaths.of(roots[c], c, s), kind)) for c in configurations for s in seeds]


def check_point_runs(point: SweepPoint, run_roots: Mapping[str, Path], seeds: Sequence[int],
                     total_steps: int, settings: str) -> list[str]:
    """ValueError naming the run unless every run is the configuration the protocol asked at
    this point (its overrides where re-run, none where reused from the centre); then check that
    the paper's configurations differ only in J, ∇ and R (and, for a reused Ĵ run, in fields
    that do not enter its objective). Returns notes on the reuse, for the report."""
    notes, configs = [], {}
    for name, runs_root in run_roots.items():
        overrides = point.values if name in point.rerun else {}
        for seed in seeds:
            paths = RunPaths.of(runs_root, name, seed)
            if not paths.run_json.is_file():
                raise ValueError(f"sensitivity point {point.name!r}: {paths.run_json} does not "
                                 "exist; train the point first")
            info = read_json(paths.run_json)
            check_run_config(paths, info, name, {**overrides, "total_steps": total_steps},
                             settings)
            configs[name] = info["config"]
        if name not in point.rerun and point.overrides:
            notes.append(f"{name}: reused from the centre ({run_roots[name]})")
    for a, b, other in _paper_differences(configs):
        raise ValueError(f"sensitivity point {point.name!r}: {a} and {b} differ in "
                         f"{other}, not only in J, ∇ and R")
    return notes


def _paper_differences(configs: Mapping[str, dict]) -> list[tuple[str, str, list[str]]]:
    """Each pair of the paper's configurations (by name, their TrainConfig dicts) that differ in
    a field other than J, ∇ and R and the fields inert without J: (a, b, those fields)."""
    paper = [c for c in PAPER_CONFIGS if c in configs]
    found = []
    for i, a in enumerate(paper):
        for b in paper[i + 1:]:
            diff = set(config_differences(configs[a], configs[b])) - set(SWITCHES)
            inert = {k for k in diff if k in INERT_WITHOUT_JEPA and not (
                configs[a]["jepa"] and configs[b]["jepa"])}
            if diff - inert:
                found.append((a, b, sorted(diff - inert)))
    return found


def configuration_fields(run_roots: Mapping[str, Path], seeds: Sequence[int]) -> dict:
    """What the paper's configurations of a point differ in, read from every run's run.json:
    {"switches": the fields that differ among J, ∇, R, "inert": fields that differ only where
    a Ĵ run (reused from the centre) does not use them, "other": any further field (must stay
    empty; check_point_runs refuses such a point)}."""
    configs, differing = {}, set()
    for name, runs_root in run_roots.items():
        for seed in seeds:
            cfg = read_json(RunPaths.of(runs_root, name, seed).run_json)["config"]
            if name in configs:
                differing |= set(config_differences(configs[name], cfg)) - {"seed"}
            configs.setdefault(name, cfg)
    names = list(configs)
    diff = {k for i, a in enumerate(names) for b in names[i + 1:]
            for k in config_differences(configs[a], configs[b])}
    other = sorted({k for _, _, ks in _paper_differences(configs) for k in ks} | differing)
    return {"switches": sorted(diff & set(SWITCHES)),
            "inert": sorted((diff - set(SWITCHES)) - set(other)), "other": other}


def preregistration(run_folders: Sequence[Path], protocol: str = PROTOCOL,
                    repo: str | os.PathLike = ".") -> dict:
    """Whether every run was trained after the protocol was committed: each session of each
    run (run.json's ``sessions``, a resumed run has several) names the commit its code was at,
    which must descend from the first commit of `protocol`. Returns {"protocol", "commit" (its
    first commit, None without git history), "runs", "revisions" ({short hash: sessions}),
    "after", "before", "unknown" (run folders), "dirty" (run folders trained with uncommitted
    code changes), "dirty_unrecorded" (run folders with a session that does not say: a run.json
    from before ``git_dirty`` was recorded, or null where git could not tell), "sessions_lost"
    ({run folder: the update its first recorded session starts at}: a run resumed after its
    first sessions' record was lost, which the check cannot cover), "sessions_unrecorded" (run
    folders whose run.json predates the per-session record, where such a loss cannot be seen)
    and "machines" ({"CPU, device": runs})}. Reads only run.json and git."""
    commit = first_commit(protocol, folder=repo)
    revisions: Counter[str] = Counter()
    machines: Counter[str] = Counter()
    after, before, unknown, dirty, unrecorded = [], [], [], [], []
    lost: dict[str, int] = {}
    no_sessions: list[str] = []
    for folder in run_folders:
        info = read_json(Path(folder) / "run.json")
        where = f"{(info.get('machine') or {}).get('cpu') or UNKNOWN_CPU}, {info.get('device')}"
        machines[where] += 1
        sessions = info.get("sessions") or [info]
        first = sessions[0].get("first_update")
        if first is None:
            no_sessions.append(str(folder))
        elif int(first) > 0:
            lost[str(folder)] = int(first)
        revs = [str(x.get("git_rev") or "unknown") for x in sessions]
        revisions.update(rev[:7] for rev in revs)
        if any(x.get("git_dirty") for x in sessions):
            dirty.append(str(folder))
        elif any(x.get("git_dirty") is None for x in sessions):
            unrecorded.append(str(folder))
        known = [None if commit is None or rev == "unknown" else is_ancestor(commit, rev, repo)
                 for rev in revs]
        (before if False in known else unknown if None in known else after).append(str(folder))
    return {"protocol": protocol, "commit": commit, "runs": len(run_folders),
            "revisions": dict(sorted(revisions.items())),
            "machines": dict(sorted(machines.items())), "after": len(after),
            "before": before, "unknown": unknown, "dirty": dirty,
            "dirty_unrecorded": unrecorded, "sessions_lost": lost,
            "sessions_unrecorded": no_sessions}


def _preregistration_lines(audit: dict) -> list[str]:
    revs = ", ".join(f"`{r}` ({n})" for r, n in audit["revisions"].items())
    if audit["commit"] is None:
        head = (f"Not checked here: git knows no commit of `{audit['protocol']}` (no history). "
                f"The {audit['runs']} runs were trained at {revs}.")
    else:
        every = ("every session on record" if audit.get("sessions_lost")
                 or audit.get("sessions_unrecorded") else "every session")
        head = (f"`{audit['protocol']}` was first committed at `{audit['commit'][:7]}`. Of the "
                f"{audit['runs']} runs read here, {audit['after']} were trained ({every}) "
                f"at commits that descend from it; sessions per commit: {revs}.")
    lines = [head, "Trained on (the machine of each run's last session): " + "; ".join(
        f"{m} ({n} runs)" for m, n in audit.get("machines", {}).items()) + ". Bit-identical "
        "reruns are promised on the same CPU kind only."]
    for key, what in (("before", "trained at a commit that does not descend from the "
                                 "protocol"),
                      ("unknown", "trained at a commit this repository does not know"),
                      ("dirty", "trained with uncommitted changes to the code")):
        if audit[key]:
            lines.append(f"{len(audit[key])} {what}: {', '.join(audit[key])}.")
    unrecorded = audit.get("dirty_unrecorded") or []
    if unrecorded:
        lines.append(f"{_runs(len(unrecorded))} do not record whether the code had uncommitted "
                     "changes (a run.json from before `git_dirty`, or git could not tell): "
                     + _per_runs_root(unrecorded) + ".")
    no_sessions = audit.get("sessions_unrecorded") or []
    if no_sessions:
        verb = "predates" if len(no_sessions) == 1 else "predate"
        lines.append(f"{_runs(len(no_sessions))} {verb} the record of each session (a run.json "
                     "without `sessions`), so whether an earlier session went unrecorded cannot "
                     "be seen: " + _per_runs_root(no_sessions) + ".")
    lost = audit.get("sessions_lost") or {}
    if lost:
        verb = "has no record of its" if len(lost) == 1 else "have no record of their"
        lines.append(f"{_runs(len(lost))} {verb} sessions before the "
                     "update given (run.json was lost before a resume, e.g. by code from before "
                     "run.json was kept beside the checkpoint), so the check covers the sessions "
                     "on record: " + ", ".join(f"{f} ({u})" for f, u in lost.items()) + ".")
    return lines


def _record_pairs(record_claims: str | os.PathLike, configurations: Sequence[str],
                  seeds: Sequence[int]) -> tuple[Path, list[tuple[str, int, RunPaths]]]:
    """The summary.json beside a record's claims.json and the record's runs it lists, among
    `configurations` x `seeds`: (path, [(configuration, seed, RunPaths)]); no pairs when that
    summary is not there."""
    meta_path = Path(record_claims).parent / "summary" / SUMMARY_FILES["meta"]
    if not meta_path.is_file():
        return meta_path, []
    meta = read_json(meta_path)
    roots = meta["runs_root"]
    wanted = {(c, s) for c in configurations for s in seeds}
    pairs = []
    for run in meta["runs_used"]:
        name, seed = run["configuration"], int(run["seed"])
        if (name, seed) in wanted:
            root = roots[name] if isinstance(roots, Mapping) else roots
            pairs.append((name, seed, RunPaths.of(root, name, seed)))
    return meta_path, pairs


def record_run_files(record_claims: str | os.PathLike, configurations: Sequence[str],
                     seeds: Sequence[int]) -> list[str]:
    """What record_against_centre reads of a record, for a workflow rule's input: the summary.json
    beside its claims.json, when there is one, and each listed run's run.json, metrics.csv and
    episodes.csv."""
    meta_path, pairs = _record_pairs(record_claims, configurations, seeds)
    if not meta_path.is_file():
        return []
    return [str(meta_path)] + [str(path) for _, _, paths in pairs for path in paths.results()]


def record_against_centre(record_claims: str | os.PathLike, centre_runs: str | os.PathLike,
                          configurations: Sequence[str], seeds: Sequence[int]) -> dict:
    """The committed record's runs beside the centre re-run's, pair by pair (configuration,
    seed), as docs/sensitivity.md ("The centre re-run") asks: on the same CPU kind
    jepa_bench.analysis.compare must call them the same run; on another kind the pair is only
    "other CPU kind" and the two are set side by side by their verdicts; a run that does not
    record its CPU makes its pair "unknown". The record's runs are those listed by the
    summary.json beside its claims.json (``summary/summary.json``), paths as it wrote them.
    Returns {"record", "checked" (False, with "why", when that summary or a run.json of either
    side is not there), "machines" and "centre_machines" ({CPU: paired runs}), "pairs",
    "other_kind", "unknown", "same_run", "different" (["config/seedN: first difference"])}."""
    meta_path, pairs = _record_pairs(record_claims, configurations, seeds)
    out = {"record": str(record_claims), "checked": False}
    if not meta_path.is_file():
        return out | {"why": f"no {meta_path}"}
    missing = [str(paths.run_json) for name, seed, mine in pairs
               for paths in (mine, RunPaths.of(centre_runs, name, seed))
               if not paths.run_json.is_file()]
    if missing:
        return out | {"why": f"no {missing[0]}" + (f" and {len(missing) - 1} more"
                                                     if len(missing) > 1 else "")}
    machines: Counter[str] = Counter()
    centre_machines: Counter[str] = Counter()
    counts = {"other_kind": 0, "unknown": 0, "same_run": 0}
    different = []
    for name, seed, mine in pairs:
        theirs = RunPaths.of(centre_runs, name, seed)
        cpu, centre_cpu = ((read_json(p.run_json).get("machine") or {}).get("cpu")
                           for p in (mine, theirs))
        machines[cpu or UNKNOWN_CPU] += 1
        centre_machines[centre_cpu or UNKNOWN_CPU] += 1
        if not cpu or not centre_cpu:
            counts["unknown"] += 1
        elif cpu != centre_cpu:
            counts["other_kind"] += 1
        elif differences := compare_runs(mine.root, theirs.root):
            different.append(f"{name}/seed{seed}: {differences[0]}")
        else:
            counts["same_run"] += 1
    return out | {"checked": True, "machines": dict(machines),
                  "centre_machines": dict(centre_machines),
                  "pairs": len(pairs), **counts, "different": different}


def _runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def _per_runs_root(folders: Sequence[str]) -> str:
    """Run folders (<runs root>/<configuration>/seed<N>) counted per runs root: "root (n), ..."."""
    roots = Counter(str(Path(folder).parent.parent) for folder in folders)
    return ", ".join(f"{root} ({n})" for root, n in roots.items())


def _record_lines(label: str, audit: dict) -> list[str]:
    if not audit["checked"]:
        return [f"`{label}` against the centre: not checked ({audit['why']})."]

    def kinds(machines):
        return "; ".join(f"{m} ({_runs(n)})" for m, n in machines.items())

    parts = []
    if audit["other_kind"]:
        parts.append(f"{audit['other_kind']} on another CPU kind: two samples of the same "
                     "experiment, set side by side by their verdicts, not bit for bit")
    if audit["unknown"]:
        parts.append(f"{audit['unknown']} where a run does not record its CPU, so the kind "
                     "cannot be compared")
    same_kind = audit["pairs"] - audit["other_kind"] - audit["unknown"]
    if same_kind:
        parts.append(f"{same_kind} on the same CPU kind, of which `jepa-bench compare` calls "
                     f"{audit['same_run']} the same run")
    lines = [f"`{label}` (the committed record, `{audit['record']}`) and the centre re-run, "
             f"paired by configuration and seed ({_runs(audit['pairs'])} each): the record's "
             f"were trained on {kinds(audit['machines'])}, the centre's on "
             f"{kinds(audit['centre_machines'])}. Of the pairs, " + "; ".join(parts) + "."]
    if audit["different"]:
        lines.append("Same CPU kind but not the same run: " + "; ".join(audit["different"]) + ".")
    return lines


# --- what the study measures beyond the claims ----------------------------------------------

def _metrics(paths: RunPaths) -> pd.DataFrame:
    return read_table(paths.metrics)


def scale_free_table(run_roots: Mapping[str, Path], seeds: Sequence[int]) -> pd.DataFrame:
    """Per run: the relative variance rho = min embed_var / embed_var of update 1, whether it
    crossed RELATIVE_COLLAPSE, the absolute minimum and the last effective rank."""
    rows = []
    for name, runs_root in run_roots.items():
        for seed in seeds:
            m = _metrics(RunPaths.of(runs_root, name, seed))
            first = float(m["embed_var"].iloc[0])
            rho = float(m["embed_var"].min()) / first if first > 0 else math.nan
            rows.append({"configuration": name, "seed": seed, "embed_var_first": first,
                         "embed_var_min": float(m["embed_var"].min()), "rho_min": rho,
                         "collapsed_relative": bool(rho < RELATIVE_COLLAPSE),
                         "embed_rank_final": float(m["embed_rank"].iloc[-1])})
    return pd.DataFrame(rows)


def heads_clip_factor(metrics: pd.DataFrame, clip_groups: str,
                      max_grad_norm: float) -> pd.Series:
    """Per update (the diagnostic's minibatch), the factor by which the gradient-norm clip
    scaled the actor-critic heads' gradient: min(1, max_grad_norm / (norm + 1e-6)) as
    torch.nn.utils.clip_grad_norm_ computes it, where norm is that of the heads' clip group
    (jepa_bench.rl.agent.clip_groups): every trainable parameter under 'global' (the encoder's,
    predictor's and heads' logged norms together), the heads alone under 'parts'. All NaN for a
    run without the diagnostic."""
    parts = ("grad_norm_encoder", "grad_norm_predictor", "grad_norm_heads")
    if not set(parts) <= set(metrics):
        return pd.Series(math.nan, index=metrics.index)
    if clip_groups == "global":
        norm = np.sqrt(sum(metrics[c] ** 2 for c in parts))
    elif clip_groups == "parts":
        norm = metrics["grad_norm_heads"]
    else:
        raise ValueError(f"clip_groups={clip_groups!r} is not one of: 'global', 'parts'")
    return np.minimum(1.0, max_grad_norm / (norm + 1e-6))


def gradient_table(run_roots: Mapping[str, Path], seeds: Sequence[int]) -> pd.DataFrame:
    """Per run: the median over its updates of each Eq. 3 term's gradient norm into the
    x-encoder, of the ratios JEPA/critic and JEPA/actor (NaN where a run has no diagnostic
    or a term does not reach the encoder) and of heads_clip_factor."""
    rows = []
    for name, runs_root in run_roots.items():
        for seed in seeds:
            paths = RunPaths.of(runs_root, name, seed)
            m = _metrics(paths)
            cfg = read_json(paths.run_json)["config"]
            row = {"configuration": name, "seed": seed,
                   "heads_clip_factor": float(heads_clip_factor(
                       m, cfg["clip_groups"], cfg["max_grad_norm"]).median())}
            for term in GRAD_TERMS:
                row[term] = float(m[term].median()) if term in m else math.nan
            for other in ("critic", "actor"):
                if {"grad_enc_jepa", f"grad_enc_{other}"} <= set(m):
                    ratio = m["grad_enc_jepa"] / m[f"grad_enc_{other}"].where(
                        m[f"grad_enc_{other}"] > 0)
                    row[f"jepa_over_{other}"] = float(ratio.median())
                else:
                    row[f"jepa_over_{other}"] = math.nan
            rows.append(row)
    return pd.DataFrame(rows)


def contrast_table(summary_dir: str | os.PathLike) -> dict:
    """J,∇,R̂ minus Ĵ,∇,R̂ on a point's runs table: AUC and final return, mean difference with
    its 95 % percentile-bootstrap CI (docs/sensitivity.md, Outputs)."""
    runs = read_summary(summary_dir, ["runs"])["runs"]
    on, off = (runs[runs["configuration"] == c] for c in CONTRAST)
    return {metric: bootstrap_difference(on[metric].to_numpy(), off[metric].to_numpy())
            for metric in ("auc_return", "final_return")}


# --- the report -------------------------------------------------------------------------------

def _check_number(check: dict) -> str:
    """A check's first mean (or count), named; '' when it has none."""
    for key, value in (check.get("numbers") or {}).items():
        if isinstance(value, dict) and "mean" in value:
            return f"{key} {value['mean']:.3g}"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return f"{key} {value:.3g}"
    return ""


def first_number(claim: dict) -> str:
    """A claim's first number, as its report states it: the first check's first mean (or
    count), named; '' when the claim has no numbers."""
    return next((n for n in map(_check_number, claim.get("checks") or []) if n), "")


def deciding_number(claim: dict) -> str:
    """The number of the check that keeps a claim from being reproduced: the first check that
    failed (not reproduced) or stayed undecided (inconclusive), named; '' when the claim is
    reproduced, has no such check, or that number is already the first number. (Claim 4's first
    number is a collapse count; where it is not reproduced because its configuration does not
    learn, this is the final return that says so.)"""
    if claim.get("verdict") not in ("not reproduced", "inconclusive"):
        return ""
    want = claim["verdict"] == "inconclusive" and None  # False, or None (undecided)
    check = next((c for c in claim.get("checks") or []
                  if "result" in c and c["result"] is want), None)
    number = _check_number(check) if check else ""
    return "" if number == first_number(claim) else number


def robustness(claims_by_point: Mapping[str, dict | None], counted: Sequence[str]) -> dict:
    """One row per claim, one cell per point (verdict and first number; None where the point
    was not run); per claim the count of counted points at which it is reproduced ("holds"),
    the count at which its verdict is the centre's (the centre included) and the points at
    which it differs from the centre's."""
    done = {p: c for p, c in claims_by_point.items() if c is not None}
    ids = sorted({cl["id"] for c in done.values() for cl in c["claims"]})
    rows = []
    for cid in ids:
        cells = {}
        for point, claims in claims_by_point.items():
            claim = next((cl for cl in (claims or {}).get("claims", []) if cl["id"] == cid), None)
            cells[point] = None if claim is None else {"verdict": claim["verdict"],
                                                       "number": first_number(claim),
                                                       "decided_by": deciding_number(claim)}
        run = [p for p in counted if cells.get(p)]
        holds = [p for p in run if cells[p]["verdict"] == "reproduced"]
        centre = (cells.get(CENTRE) or {}).get("verdict")
        flips = [p for p in run if p != CENTRE and centre and cells[p]["verdict"] != centre]
        statement = next(cl["statement"] for c in done.values() for cl in c["claims"]
                         if cl["id"] == cid)
        same = [p for p in run if centre and cells[p]["verdict"] == centre]
        rows.append({"id": cid, "statement": statement, "cells": cells, "holds": len(holds),
                     "of": len(run), "centre_verdict": centre, "same_as_centre": len(same),
                     "flipped_by": flips})
    return {"points": list(claims_by_point), "counted": list(counted), "claims": rows}


def _interval(d: dict, digits: int = 1) -> str:
    if d.get("diff") is None or math.isnan(d["diff"]):
        return "n/a"
    return f"{d['diff']:.{digits}f} ({d['low']:.{digits}f} to {d['high']:.{digits}f})"


def _table(header: list[str], body: list[list]) -> str:
    return markdown_table(pd.DataFrame(body, columns=header)).rstrip("\n")


def format_robustness(result: dict) -> str:
    """The robustness report as markdown."""
    points = result["points"]
    lines = ["# Sensitivity of the verdicts (docs/sensitivity.md)", "",
             "Each column is one point of the preregistered sweep; `v2` is the committed record "
             "(not counted), `centre` its re-run. A cell is the claim's verdict under the "
             "unchanged criteria and its first number; where that number is not the one that "
             "keeps the claim from being reproduced, the cell adds the number of the first "
             "check that failed or stayed undecided (\"decided by\"). A claim that holds at "
             "one point of m "
             "is weak evidence, whichever point that is: no point is the right one.", ""]
    not_run = [p for p in result["planned"] if p not in result["done"]]
    if not_run:
        lines += [f"Points not run yet (in the preregistered order): {', '.join(not_run)}.", ""]
    else:
        lines += [f"Every preregistered point has run ({len(result['planned'])}).", ""]
    header = ["claim"] + points
    body = []
    for row in result["robustness"]["claims"]:
        cells = [f"{row['id']}"]
        for p in points:
            c = row["cells"].get(p)
            if c is None:
                cells.append("not run")
                continue
            decided = f" (decided by {c['decided_by']})" if c.get("decided_by") else ""
            cells.append(f"{c['verdict']}; {c['number']}".strip("; ") + decided)
        body.append(cells)
    lines += [_table(header, body), ""]
    lines += ["## Per claim", ""]
    for row in result["robustness"]["claims"]:
        flips = ", ".join(f"{p} ({result['axes'].get(p, p)})" for p in row["flipped_by"]) \
            or "none"
        kept = (f"; the centre's verdict ({row['centre_verdict']}) at "
                f"{row['same_as_centre']} of {row['of']}" if row.get("centre_verdict") else "")
        lines.append(f"- Claim {row['id']}: reproduced at {row['holds']} of {row['of']} points "
                     f"run{kept}; verdict differs from the centre's at: {flips}.")
    lines += ["", "## The central contrast: J,∇,R̂ minus Ĵ,∇,R̂ (mean difference, 95 % bootstrap "
              "CI)",
              ""]
    body = [[p, _interval(c["auc_return"]), _interval(c["final_return"])]
            for p, c in result["contrast"].items()]
    lines += [_table(["point", "AUC", "final return"], body), ""]
    lines += ["## Scale-free collapse indicator", "",
              f"rho = min embed_var / embed_var of update 1; collapsed (relative) when rho < "
              f"{RELATIVE_COLLAPSE:g}; geometric mean of rho over seeds; effective rank at the "
              "last update (mean); each with its 95 % bootstrap CI over seeds. Claim 3 keeps the "
              "paper's absolute line, 1e-7.", ""]
    body = []
    for p, rows in result["scale_free"].items():
        for name, r in rows.items():
            rho, rank = r["rho_geomean"], r["rank_final"]
            body.append([p, name, f"{sci(rho['mean'])} ({sci(rho['ci_low'])} to "
                                  f"{sci(rho['ci_high'])})", f"{r['collapsed']} of {r['n']}",
                         f"{rank['mean']:.1f} ({rank['ci_low']:.1f} to {rank['ci_high']:.1f})"])
    lines += [_table(["point", "configuration", "rho (geo. mean, CI)", "rho < 1e-4",
                      "eff. rank (mean, CI)"], body), ""]
    lines += ["## Gradient into the x-encoder: JEPA over critic and over actor (median over "
              "updates, mean over seeds)", "",
              "Beside them, the factor by which the gradient-norm clip scaled the actor-critic "
              "heads' gradient (min(1, clip / norm of the heads' clip group): every trainable "
              "parameter under one global clip, the heads alone under `clip_groups=parts`), "
              "from the logged norms of the diagnostic's minibatch.", ""]
    body = []
    for p, rows in result["gradients"].items():
        for name, r in rows.items():
            body.append([p, name, sci(r["jepa_over_critic"]), sci(r["jepa_over_actor"]),
                         sci(r["heads_clip_factor"])])
    lines += [_table(["point", "configuration", "JEPA/critic", "JEPA/actor",
                      "heads' clip factor"], body), ""]
    lines += ["## What the configurations differ in", "",
              "Read from every run's run.json at each point run: the paper's four configurations "
              "may differ only in J, ∇ and R (`jepa`, `rl_grad`, `var_reg`), and in a field that "
              "does not enter the objective of a Ĵ run reused from the centre.", ""]
    for name, f in result["configurations"].items():
        inert = f"; {', '.join(f['inert'])} only where a Ĵ run does not use it" \
            if f["inert"] else ""
        other = f"; ALSO IN {', '.join(f['other'])}" if f["other"] else "; nothing else"
        lines.append(f"- {name}: {', '.join(f['switches'])}{inert}{other}.")
    lines += ["", "## Preregistration", ""] + _preregistration_lines(result["preregistration"]) \
        + [""]
    for label, audit in result["records"].items():
        lines += [f"## The centre re-run and the committed record `{label}`", ""] \
            + _record_lines(label, audit) + [""]
    if result["notes"]:
        lines += ["## Notes", ""] + [f"- {n}" for n in result["notes"]] + [""]
    return "\n".join(lines)


def _per_config(table: pd.DataFrame, fn) -> dict:
    return {name: fn(group) for name, group in table.groupby("configuration", sort=False)}


def _geometric(values) -> dict:
    """Geometric mean of the positive values with its 95 % CI: the bootstrap CI of the mean of
    their logarithms, taken back (describe_sample's settings)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    d = describe_sample(np.log(v))
    return {k: (math.exp(d[k]) if math.isfinite(d[k]) else math.nan)
            for k in ("mean", "ci_low", "ci_high")}


def _mean_ci(values) -> dict:
    d = describe_sample(values)
    return {k: d[k] for k in ("mean", "ci_low", "ci_high")}


def robustness_result(root: str | os.PathLike, points: Sequence[SweepPoint],
                      done: Sequence[str], configurations: Sequence[str], seeds: Sequence[int],
                      record: Mapping[str, str] | None = None) -> dict:
    """What the robustness report says, for the points in `done` (each a finished point folder
    ``{root}/{point}`` with summary/ and claims.json); the other points are listed as not run.
    `record` names committed claims.json files shown beside the points, not counted."""
    root = Path(root)
    claims = {label: read_json(Path(path)) for label, path in (record or {}).items()}
    contrast, scale_free, gradients, fields, notes, folders = {}, {}, {}, {}, [], []
    for point in points:
        if point.name not in done:
            claims[point.name] = None
            continue
        folder = root / point.name
        claims[point.name] = read_json(folder / "claims.json")
        contrast[point.name] = contrast_table(folder / "summary")
        roots = point_run_roots(point, root, configurations)
        fields[point.name] = configuration_fields(roots, seeds)
        sf = scale_free_table(roots, seeds)
        scale_free[point.name] = _per_config(sf, lambda g: {
            "rho_geomean": _geometric(g["rho_min"]),
            "collapsed": int(g["collapsed_relative"].sum()), "n": len(g),
            "rank_final": _mean_ci(g["embed_rank_final"])})
        gr = gradient_table(roots, seeds)
        gradients[point.name] = _per_config(gr, lambda g: {
            k: describe_sample(g[k])["mean"] for k in (*GRAD_TERMS, "jepa_over_critic",
                                                       "jepa_over_actor", "heads_clip_factor")})
        notes += [f"{point.name}: {c} reused from the centre" for c in configurations
                  if c not in point.rerun]
        folders += [RunPaths.of(roots[c], c, s).root for c in configurations for s in seeds]
    centre_runs = root / CENTRE / "runs"
    records = {label: record_against_centre(path, centre_runs, configurations, seeds)
               for label, path in (record or {}).items()} if CENTRE in done else {}
    return {"planned": [p.name for p in points], "done": list(done),
            "points": list(claims), "axes": {p.name: p.axis for p in points},
            "overrides": {p.name: list(p.overrides) for p in points},
            "robustness": robustness(claims, [p.name for p in points]),
            "contrast": contrast, "scale_free": scale_free, "gradients": gradients,
            "configurations": fields, "preregistration": preregistration(sorted(set(folders))),
            "records": records, "notes": notes}


def write_robustness_report(out_md: str | os.PathLike, result: dict) -> tuple[Path, Path]:
    """The report at `out_md` (the sweep's ``robustness.md``) and its JSON twin, atomically."""
    return write_report(Path(out_md), format_robustness(result), result)
