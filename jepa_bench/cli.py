"""`jepa-bench`: a thin command line over the package's functions.

    jepa-bench configs                         (the named configurations)
    jepa-bench train --config j1g1r0 --seed 0 [--total-steps 100000] [--out DIR] [--resume]
    jepa-bench aggregate | plots | claims      (the workflow's Figure 3 stages)
    jepa-bench recovery | theory               (Yu & Chen: recovery from collapse, the audit)
    jepa-bench recovery-shared-collapse | recovery-shared   (a collapse that happens, recovered?)
    jepa-bench sensitivity-aggregate | sensitivity-report   (the sweep of docs/sensitivity.md)
    jepa-bench probe | probe-table             (can an encoder read the state from the frames?)
    jepa-bench probe-frozen | trained-encoders (what a trained encoder keeps; Prop. 2, claim 4)
    jepa-bench yu-chen                         (Yu & Chen's claims gathered, with the A2C control)
    jepa-bench calibration-report | calibration-winner | settings-table | precision-report
    jepa-bench compare RUN_A RUN_B             (same run apart from timing? exit 0 / 1)
    jepa-bench rerun-check RUN_DIR             (rerun a run here: same run / same distribution /
                                                different, against its configuration's seeds)
    jepa-bench render-check | bench            (renderer fidelity and speed; throughput)

Each subcommand imports what it needs when it runs, so the report stages load no torch. Bad
input exits with status 2 and a one-line message; a diverged run exits with status 1; a run
stopped by Ctrl-C or SIGTERM keeps its last complete update, says how to resume it, and exits
with 128 + the signal's number (130 for SIGINT, 143 for SIGTERM), as a shell reports a process
the signal ended.
"""

from __future__ import annotations

import argparse
import errno
import json
import shlex
import signal
import sys
import unicodedata
from pathlib import Path

from jepa_bench.errors import RunFolderError, TrainingDiverged



class _Defaults(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's defaults in --help, except where there is none to show or the help says it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "default" in text:
            return text
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """One-line errors (exit 2, no usage block) and every option's default shown in --help."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Defaults)
        super().__init__(*args, **kwargs)

    def error(self, message):  # one line, exit 2, like argparse but without the usage block
        self.exit(2, f"{self.prog}: error: {message}\n")


INT_MAX = 2**63 - 1
"""The largest integer an option takes: a seed, a step or a sample count must fit torch's int64."""
MAX_THREADS = 1024
"""The most torch CPU threads an option takes; OpenMP cannot start tens of thousands (a crash,
not an error)."""


def _integer(text: str, low: int, high: int, rule: str) -> int:
    from jepa_bench.config import plain_number
    try:
        value = plain_number(text, int)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"{value} {rule}")
    if value > high:
        raise argparse.ArgumentTypeError(f"{value} is too large (allowed: {low} to {high})")
    return value


def _folder(text: str) -> str:
    """An input folder that must be there (a report over runs no folder holds would say only
    "missing" for every run)."""
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not a folder; give the folder that holds "
                                         "the runs")
    return text


def _sentence(text: str) -> str:
    """A sentence to print in a report: one line that says something, ending in a full stop."""
    text = text.strip()
    if not text or "\n" in text or not text.endswith("."):
        raise argparse.ArgumentTypeError(f"{text!r} is not one sentence ending in '.'")
    return text


def _positive_int(text: str) -> int:
    return _integer(text, 1, INT_MAX, "must be a positive integer")


def _non_negative_int(text: str) -> int:
    return _integer(text, 0, INT_MAX, "must be >= 0")


def _thread_count(text: str) -> int:
    return _integer(text, 1, MAX_THREADS, "must be a positive integer")


def _thread_count_or_all(text: str) -> int:
    return _integer(text, 0, MAX_THREADS, "must be >= 0 (0: all of torch's threads)")


def parse_pairs(items: list[str], flag: str = "--claims",
                expected: str = "SET=PATH/claims.json") -> dict[str, Path]:
    """['v1=path', ...] -> {'v1': Path('path')}, in the given order; ValueError naming a
    malformed item (``flag`` and ``expected`` word the message)."""
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"{flag} {item!r}: expected {expected}")
        if name in out:
            raise ValueError(f"{flag} {item!r}: {name!r} is given twice; each name once")
        out[name] = Path(path)
    return out


def cmd_configs(args) -> int:
    from jepa_bench.config import CONFIGS, PAPER_CONFIGS
    def visible(text: str) -> int:  # combining hats take no column
        return sum(not unicodedata.combining(ch) for ch in text)

    width = max(len(n) for n in CONFIGS)
    nwidth = max(visible(c.notation) for c in CONFIGS.values())
    for name, named in CONFIGS.items():
        tag = " (paper)" if name in PAPER_CONFIGS else ""
        pad = " " * (nwidth - visible(named.notation))
        print(f"{name:<{width}}  {named.notation}{pad}  {named.description}{tag}")
    return 0


def _run_overrides(args) -> dict:
    """The TrainConfig overrides of a run: --set items, --total-steps and --renderer."""
    from jepa_bench.config import parse_overrides

    overrides = parse_overrides(args.set)
    overrides["total_steps"] = args.total_steps
    if args.renderer:
        overrides["renderer"] = args.renderer
    return overrides


def resume_command(words: list[str]) -> str:
    """The `jepa-bench train` command line that continues a run started with `words`: --force
    left out (it would start over), --resume added."""
    kept = [w for w in words if w != "--force"]
    if "--resume" not in kept:
        kept.append("--resume")
    return "jepa-bench " + " ".join(shlex.quote(w) for w in kept)


def cmd_train(args) -> int:
    from jepa_bench.config import resolve
    from jepa_bench.rl.run import default_run_dir, train

    cfg = resolve(args.config, _run_overrides(args), settings=args.settings)
    out = Path(args.out) if args.out else default_run_dir(args.config, args.seed)
    words = list(args.argv or sys.argv[1:])
    command = "jepa-bench " + " ".join(shlex.quote(a) for a in words)
    if cfg.total_steps % cfg.batch_size:  # a run is whole updates of one batch each
        print(f"jepa-bench train: note: --total-steps {cfg.total_steps} is not a whole number "
              f"of updates of {cfg.batch_size} steps (num_envs × num_steps); the run takes "
              f"{cfg.num_updates} updates, {cfg.num_updates * cfg.batch_size} env steps",
              file=sys.stderr)
    info = train(cfg, args.seed, out, config_name=args.config, device=args.device,
                 threads=args.threads, resume=args.resume, force=args.force,
                 progress=not args.quiet, command=command, init_from=args.init_from,
                 settings=args.settings, track=args.track,
                 grad_diagnostic=args.grad_diagnostic)
    if info["status"] == "interrupted":
        how = info.get("interrupted_by", "SIGINT")
        print(f"jepa-bench train: stopped by {how} at env step {info['env_steps']} of "
              f"{cfg.total_steps} (update {info['updates']} of {info['total_updates']}); "
              f"{out} keeps every complete update: continue with {resume_command(words)}",
              file=sys.stderr)
        return 128 + signal.Signals[how].value
    if info["status"] == "complete":
        print(f"{args.config}/seed{args.seed}: complete, {info['env_steps']} env steps -> {out}")
    return 0


def cmd_rerun_check(args) -> int:
    from jepa_bench.tools.rerun import rerun_check
    verdict, report = rerun_check(Path(args.run_dir), train=main, seeds_of=args.seeds_of,
                                  out=Path(args.out) if args.out else None)
    print(report)
    return 1 if verdict == "different" else 0


def cmd_aggregate(args) -> int:
    from jepa_bench.analysis.aggregate import summarise
    paths = summarise(Path(args.runs_root), args.configs, args.seeds, args.total_steps,
                      Path(args.out), overrides=_run_overrides(args), settings=args.settings)
    for path in paths.values():
        print(path)
    return 0


def cmd_plots(args) -> int:
    from jepa_bench.analysis.plots import make_figures
    for path in make_figures(Path(args.summary), Path(args.out)):
        print(path)
    return 0


def cmd_claims(args) -> int:
    from jepa_bench.analysis.claims import write_claims
    for path in write_claims(Path(args.summary), Path(args.out)):
        print(path)
    return 0


def cmd_render_check(args) -> int:
    from jepa_bench.rl.render import compare_renderers, time_renderers
    fid = compare_renderers(n_states=args.states, seed=args.seed, height=args.height,
                            width=args.width)
    for key, value in fid.items():
        print(f"fidelity.{key}: {value}")
    if not args.no_timing:
        for key, value in time_renderers(height=args.height, width=args.width).items():
            print(f"speed.{key}: {value}")
    return 0


def cmd_probe(args) -> int:
    import torch

    from jepa_bench.rl.probe import probe
    if args.threads:
        torch.set_num_threads(args.threads)
    from jepa_bench.config import parse_overrides
    out = probe(args.config, samples=args.samples, steps=args.steps, seed=args.seed,
                overrides=parse_overrides(args.set), settings=args.settings)
    if args.json:
        from jepa_bench.metrics import write_json_atomic
        write_json_atomic(Path(args.json), out)
    scores = ", ".join(f"{k} {v:.3f}" for k, v in out["r2"].items())
    print(f"{out['config']} ({out['encoder']} encoder), R² on held-out frames after "
          f"{out['steps']} steps on {out['samples']} frames, seed {out['seed']}: {scores}; "
          f"embedding variance at init {out['init_embed_var']:.3g}")
    return 0


def workflow_spec(text: str, key: str) -> dict:
    """--spec: the workflow config's `key` section as JSON (what the Snakemake rules pass),
    checked against the workflow's schema as the workflow checks it; ValueError in one line."""
    from jepa_bench.workflow_config import section_error
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--spec is not JSON ({exc}); give the workflow's `{key}` config") \
            from None
    if not isinstance(spec, dict):
        raise ValueError(f"--spec must be a JSON object (the workflow's `{key}` config), got "
                         f"{type(spec).__name__}")
    problem = section_error(key, spec)
    if problem:
        raise ValueError(f"--spec: {problem}")
    return spec


def cmd_calibration_report(args) -> int:
    from jepa_bench.studies.calibration import write_calibration_report
    spec = workflow_spec(args.spec, "calibration")
    for path in write_calibration_report(Path(args.root), spec, Path(args.out)):
        print(path)
    return 0


def cmd_yu_chen(args) -> int:
    from jepa_bench.studies.yu_chen import write_yu_chen_report
    reports = parse_pairs(args.reports, "--reports", "NAME=PATH/report.json")
    for path in write_yu_chen_report(reports, Path(args.out), args.a2c_control):
        print(path)
    return 0


def cmd_calibration_winner(args) -> int:
    from jepa_bench.studies.calibration import write_winner
    path = write_winner(Path(args.root), workflow_spec(args.spec, "calibration"), args.stage,
                        Path(args.out) if args.out else None)
    print(path)
    return 0


def cmd_probe_table(args) -> int:
    from jepa_bench.studies.probe_report import write_probe_report
    from jepa_bench.layout import probe_name_of
    by_config: dict[str, list] = {}
    seen: dict[Path, str] = {}
    for path in args.results:
        key = Path(path).resolve()
        if key in seen:  # a seed counted twice would shift the configuration's mean
            raise ValueError(f"{path!r} is given twice (also as {seen[key]!r}); give each probe "
                             "file once")
        seen[key] = path
        by_config.setdefault(probe_name_of(path), []).append(Path(path))
    for path in write_probe_report(by_config, Path(args.out)):
        print(path)
    return 0


def cmd_settings_table(args) -> int:
    from jepa_bench.studies.settings_report import write_settings_table
    print(write_settings_table(parse_pairs(args.claims), Path(args.out)))
    return 0


def cmd_precision_report(args) -> int:
    from jepa_bench.studies.precision import write_precision_report
    summaries = parse_pairs(args.summary, "--summary", "ARM=SUMMARY_FOLDER")
    for path in write_precision_report(summaries, Path(args.out)):
        print(path)
    return 0


def _sweep(args):
    """The sensitivity points of --spec (the workflow's `sensitivity` config, as JSON)."""
    from jepa_bench.studies.sensitivity import sweep_points
    return sweep_points(workflow_spec(args.spec, "sensitivity"), args.configs)


def _sweep_arguments(p) -> None:
    """The arguments both sensitivity subcommands take: the points and the runs they read."""
    from jepa_bench.config import CONFIGS
    p.add_argument("--spec", required=True, help="the workflow's `sensitivity` config as JSON")
    p.add_argument("--root", required=True, type=_folder, help="the sweep's results folder")
    p.add_argument("--configs", nargs="+", required=True, choices=CONFIGS, metavar="NAME")
    p.add_argument("--seeds", nargs="+", type=_non_negative_int, required=True)


def cmd_sensitivity_aggregate(args) -> int:
    from jepa_bench.analysis.aggregate import summarise
    from jepa_bench.studies.sensitivity import check_point_runs, point_run_roots

    points = {p.name: p for p in _sweep(args)}
    if args.point not in points:
        raise ValueError(f"--point {args.point!r} is not one of: {', '.join(points)}")
    point = points[args.point]
    roots = point_run_roots(point, args.root, args.configs)
    for note in check_point_runs(point, roots, args.seeds, args.total_steps, args.settings):
        print(f"{point.name}: {note}")
    summarise(roots, args.configs, args.seeds, args.total_steps, args.out, settings=args.settings)
    print(f"summary of {point.name} -> {args.out}")
    return 0


def cmd_sensitivity_report(args) -> int:
    from jepa_bench.studies.sensitivity import (points_through, robustness_result,
                                                write_robustness_report)
    from jepa_bench.studies.sensitivity_figures import contrast_figure, gradient_figure

    points = _sweep(args)
    done = [p.name for p in points_through(points, args.through, given_as="--through")]
    record = parse_pairs(args.record or [], "--record")
    result = robustness_result(args.root, points, done, args.configs, args.seeds, record)
    md, js = write_robustness_report(args.out, result)
    if args.figures:
        contrast_figure(result, points, args.figures)
        gradient_figure(args.root, points, done, args.configs, args.seeds, args.figures)
    print(f"{md} and {js}: {len(done)} of {len(points)} points")
    return 0


def cmd_probe_frozen(args) -> int:
    import torch

    from jepa_bench.layout import RunPaths
    from jepa_bench.metrics import read_json, write_json_atomic
    from jepa_bench.rl.probe import frozen_probe

    if args.threads:
        torch.set_num_threads(args.threads)
    out = []
    for folder in args.runs:
        paths = RunPaths(Path(folder))
        info = read_json(paths.run_json, need={"config_name": str, "seed": int},
                         what="a run folder's run.json")
        snapshots = paths.encoder_snapshots()
        if not snapshots:
            raise ValueError(f"{folder} holds no encoder snapshots (encoder/step*.pt); runs "
                             "keep them from the commit of docs/trained-encoders.md on")
        res = [frozen_probe(s, samples=args.samples) for s in snapshots]
        out.append({"run": str(folder), "config_name": info["config_name"],
                    "seed": info["seed"], "snapshots": res})
        last = res[-1]["r2"]["mlp"]
        print(f"{folder}: {len(res)} snapshots; MLP R² at step {res[-1]['env_step']}: "
              + ", ".join(f"{k} {v:.2f}" for k, v in last.items()))
    if args.json:
        write_json_atomic(Path(args.json), out[0] if len(out) == 1 else {"runs": out})
    return 0


def cmd_trained_encoders(args) -> int:
    from jepa_bench.studies.trained_encoders import (evaluate_trained_encoders, read_probe,
                                                     trained_encoders_figure,
                                                     write_trained_encoders_report)
    result = evaluate_trained_encoders([read_probe(p) for p in args.probes])
    if args.exploratory:
        result["exploratory"] = args.exploratory
    md, js = write_trained_encoders_report(args.out, result)
    if args.figures:
        import pandas as pd
        trained_encoders_figure(pd.DataFrame(result["table"]), args.figures)
    for claim in result["claims"]:
        print(f"{claim['id']}: {claim['verdict']}")
    print(f"{md} and {js}")
    return 0


def cmd_theory(args) -> int:
    from jepa_bench.studies.theory import format_theory_report, run_theory_checks
    result = run_theory_checks(seed=args.seed)
    text = format_theory_report(result)
    if args.out:
        from jepa_bench.metrics import atomic_write_text
        atomic_write_text(Path(args.out), text)
    print(text)
    return 0 if result.get("ok", True) else 1


def cmd_recovery(args) -> int:
    from jepa_bench.studies.recovery import RecoverySettings, write_recovery_report
    settings = RecoverySettings(args.collapse_steps, args.recovery_steps,
                                args.collapse_threshold, args.recovery_threshold)
    for path in write_recovery_report(Path(args.root), args.algos, args.seeds, settings,
                                      Path(args.summary), Path(args.figures), Path(args.out)):
        print(path)
    return 0


def _shared_settings(args):
    """The RecoverySettings and the settings set of each algorithm of the recovery-shared
    subcommands."""
    from jepa_bench.studies.recovery import RecoverySettings
    sets = parse_pairs(args.settings_sets, "--settings-sets", "ALGO=SET")
    return (RecoverySettings(args.collapse_steps, args.recovery_steps, args.collapse_threshold,
                             args.recovery_threshold, args.collapse_rel, args.recovery_rel),
            {algo: str(name) for algo, name in sets.items()})


def cmd_recovery_shared_collapse(args) -> int:
    from jepa_bench.metrics import write_json_atomic
    from jepa_bench.studies.recovery import collapse_outcome
    from jepa_bench.studies.recovery.shared import check_settings_sets
    if len(set(args.algos)) != 1:
        raise ValueError(f"--algos {' '.join(args.algos)}: give one algorithm (the outcome is one "
                         "file per algorithm)")
    settings, sets = _shared_settings(args)
    algo = args.algos[0]
    check_settings_sets([algo], sets)  # one set, for this algorithm: names what is wrong
    out = collapse_outcome(Path(args.root), algo, args.seeds, settings, sets[algo])
    write_json_atomic(Path(args.out), out)
    print(f"{algo}: collapsed {out['collapsed'] or 'none'}, not collapsed "
          f"{out['not_collapsed'] or 'none'} -> {args.out}")
    return 0


def cmd_recovery_shared(args) -> int:
    from jepa_bench.studies.recovery import write_shared_report
    settings, sets = _shared_settings(args)
    for path in write_shared_report(Path(args.root), args.algos, args.seeds, settings, sets,
                                    args.probes, Path(args.summary), Path(args.figures),
                                    Path(args.out)):
        print(path)
    return 0


def cmd_bench(args) -> int:
    from jepa_bench.config import get_config
    for name in args.configs:  # before any timing starts, in this process
        get_config(name)
    from jepa_bench.tools import bench
    threads = [None if n == 0 else n for n in args.threads]
    if not (args.profile or args.levers or args.pairing):
        rows = bench.bench_table(configs=args.configs, threads=threads, updates=args.updates)
        print(bench.format_table(rows))
        return 0
    header = bench.environment()
    print(" · ".join(f"{k}: {v}" for k, v in header.items()))
    out = {"environment": header, "profiles": [], "levers": None}
    if args.profile:
        for n in threads:
            with bench.num_threads(n):
                for name in args.configs:
                    prof = bench.v2_profile(name, updates=args.updates)
                    out["profiles"].append(prof)
                    print(bench.format_profile(prof) + "\n", flush=True)
    if args.levers:
        with bench.num_threads(threads[0]):
            trainer = bench.make_trainer(args.configs[0])
            out["levers"] = bench.lever_table(trainer, rounds=args.rounds, steps=args.steps,
                                              compile_loss=not args.no_compile)
        print(f"{args.configs[0]}, {threads[0] or 'all'} thread(s)")
        print(bench.format_levers(out["levers"]))
    if args.pairing:
        out["pairing"] = bench.pairing_table(args.configs[0], steps=args.pairing_steps,
                                             rounds=args.rounds)
        print(bench.format_pairing(out["pairing"]))
    if args.json:
        from jepa_bench.metrics import write_json_atomic
        write_json_atomic(Path(args.json), out)
    return 0


def cmd_compare(args) -> int:
    from jepa_bench.analysis.compare import describe
    same, report = describe(Path(args.run_a), Path(args.run_b))
    print(report)
    return 0 if same else 1


def _run_commands(sub) -> None:
    """Subcommands: configs and train: one run."""
    from jepa_bench.config import CHOICES, CONFIGS, DEFAULT_SETTINGS, SETTINGS, settable_keys

    SETS = ", ".join(SETTINGS)  # noqa: N806  (a help text)

    p = sub.add_parser("configs", help="list the named configurations")
    p.set_defaults(func=cmd_configs)

    p = sub.add_parser("train", help="train one configuration and seed into a run folder")
    p.add_argument("--config", required=True, metavar="NAME",
                   help=f"one of: {', '.join(CONFIGS)}")
    p.add_argument("--seed", required=True, type=_non_negative_int,
                   help="seed (>= 0) of torch and of every env's initial states; the same seed, "
                        "CPU kind, torch build and thread count give the same run")
    p.add_argument("--total-steps", type=_positive_int, default=100_000,
                   help="env steps of the run; with --resume a larger value extends a run")
    p.add_argument("--out", help="run folder (default: runs/{config}/seed{seed}, ignored by git)")
    p.add_argument("--renderer", choices=CHOICES["renderer"],
                   help="frame renderer (default: the configuration's, fast)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="torch device; auto takes CUDA when available")
    p.add_argument("--threads", type=_thread_count,
                   help=f"torch CPU threads, up to {MAX_THREADS} (default: torch's)")
    what_of_a_run_there = p.add_mutually_exclusive_group()
    what_of_a_run_there.add_argument(
        "--resume", action="store_true",
        help="continue the run in --out from its checkpoint, or extend it when only "
             "--total-steps grows; with no run there, say so and start one")
    what_of_a_run_there.add_argument(
        "--force", action="store_true",
        help="discard the run in --out first (never files tracked by git)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a TrainConfig field (repeatable); keys: "
                        + ", ".join(settable_keys()))
    p.add_argument("--track", choices=("tensorboard",),
                   help="also log every update to {out}/tensorboard/ (needs tensorboard: "
                        "pip install -e \".[track]\")")
    p.add_argument("--settings", metavar="SET",
                   help=f"settings set of what the paper leaves unstated, one of {SETS} "
                        f"(default: {DEFAULT_SETTINGS}; see docs/calibration.md)")
    p.add_argument("--init-from", metavar="CKPT",
                   help="start from the weights of another run's checkpoints/last.pt")
    p.add_argument("--grad-diagnostic", action="store_true",
                   help="log in metrics.csv, on one minibatch per update, the gradient norm each "
                        "term of Eq. 3 sends into the x-encoder and each part's norm before the "
                        "clip (the same run with or without it)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_train)


def _figure3_commands(sub) -> None:
    """Subcommands: aggregate, plots, claims: the workflow's Figure 3 stages."""
    from jepa_bench.config import CHOICES, SETTINGS

    SETS = ", ".join(SETTINGS)  # noqa: N806  (a help text)

    p = sub.add_parser("aggregate", help="tidy summary tables from run folders")
    p.add_argument("--runs-root", required=True)
    p.add_argument("--configs", nargs="+", required=True)
    p.add_argument("--seeds", nargs="+", type=_non_negative_int, required=True)
    p.add_argument("--total-steps", type=_positive_int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--renderer", choices=CHOICES["renderer"], help="as the runs were trained with")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="as the runs were trained with: every run's run.json config must match")
    p.add_argument("--settings", metavar="SET", choices=SETTINGS,
                   help=f"settings set the runs were trained with, one of {SETS}")
    p.set_defaults(func=cmd_aggregate)

    p = sub.add_parser("plots", help="the paper's figures from the summary tables")
    p.add_argument("--summary", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_plots)

    p = sub.add_parser("claims", help="check the paper's claims against the summary")
    p.add_argument("--summary", required=True)
    p.add_argument("--out", required=True, help="markdown file; a .json twin is written beside")
    p.set_defaults(func=cmd_claims)


def _recovery_shared_arguments(p, sets: str) -> None:
    """The run folders, settings sets and numbers both recovery-shared subcommands take."""
    from jepa_bench.config import ALGORITHMS

    p.add_argument("--root", required=True, type=_folder, help="the experiment's run folders")
    p.add_argument("--algos", nargs="+", required=True, choices=ALGORITHMS)
    p.add_argument("--settings-sets", nargs="+", required=True, metavar="ALGO=SET",
                   help=f"the settings set each algorithm's runs were trained with, one of {sets}")
    p.add_argument("--seeds", nargs="+", type=_non_negative_int, required=True)
    p.add_argument("--collapse-steps", type=_positive_int, required=True)
    p.add_argument("--recovery-steps", type=_positive_int, required=True)
    p.add_argument("--collapse-rel", type=float, default=1e-4,
                   help="ρ = embed_var / embed_var of update 1 below this is a collapse")
    p.add_argument("--collapse-threshold", type=float, default=1e-7,
                   help="embed_var below this is a collapse too")
    p.add_argument("--recovery-rel", type=float, default=1e-2,
                   help="ρ above this after the switch is a recovery (decides)")
    p.add_argument("--recovery-threshold", type=float, default=1e-5,
                   help="embed_var above this after the switch, reported beside")


def _study_commands(sub) -> None:
    """Subcommands: recovery, the renderer check, the probe and the study reports."""
    from jepa_bench.config import ALGORITHMS, DEFAULT_SETTINGS, SETTINGS

    SETS = ", ".join(SETTINGS)  # noqa: N806  (a help text)

    p = sub.add_parser("recovery", help="recovery from collapse: tables, figure, report")
    p.add_argument("--root", required=True, type=_folder,
                   help="the recovery experiment's run folders")
    p.add_argument("--algos", nargs="+", required=True, choices=ALGORITHMS)
    p.add_argument("--seeds", nargs="+", type=_non_negative_int, required=True)
    p.add_argument("--collapse-steps", type=_positive_int, required=True)
    p.add_argument("--recovery-steps", type=_positive_int, required=True)
    p.add_argument("--collapse-threshold", type=float, default=1e-7)
    p.add_argument("--recovery-threshold", type=float, default=1e-5)
    p.add_argument("--summary", required=True, help="folder for the tables")
    p.add_argument("--figures", required=True, help="folder for recovery.png/.pdf")
    p.add_argument("--out", required=True, help="recovery.md; the .json twin is written beside")
    p.set_defaults(func=cmd_recovery)

    # a collapse that happens (docs/yu-chen-protocol.md, part 2); defaults: the protocol's lines
    p = sub.add_parser("recovery-shared-collapse",
                       help="which seeds' stage-1 runs collapsed (the workflow's checkpoint of "
                            "recovery-shared): a JSON file per algorithm")
    _recovery_shared_arguments(p, SETS)
    p.add_argument("--out", required=True,
                   help="JSON file: the collapsed and not collapsed seeds of the one algorithm")
    p.set_defaults(func=cmd_recovery_shared_collapse)

    p = sub.add_parser("recovery-shared",
                       help="a collapse that happens, recovered? tables, figure, report "
                            "(docs/yu-chen-protocol.md, part 2)")
    _recovery_shared_arguments(p, SETS)
    p.add_argument("--probes", nargs="*", default=[], metavar="JSON",
                   help="probe-frozen results of the stage-2 runs (none: no run to probe)")
    p.add_argument("--summary", required=True, help="folder for the tables")
    p.add_argument("--figures", required=True, help="folder for recovery_shared.png/.pdf")
    p.add_argument("--out", required=True, help="recovery.md; the .json twin is written beside")
    p.set_defaults(func=cmd_recovery_shared)

    p = sub.add_parser("render-check", help="fast renderer vs gymnasium: fidelity and speed")
    p.add_argument("--states", type=_positive_int, default=1000)
    p.add_argument("--seed", type=_non_negative_int, default=0)
    p.add_argument("--height", type=_positive_int, default=24)
    p.add_argument("--width", type=_positive_int, default=96)
    p.add_argument("--no-timing", action="store_true")
    p.set_defaults(func=cmd_render_check)

    p = sub.add_parser("probe", help="supervised probe: can a configuration's encoder read the "
                                     "state from the frames?")
    p.add_argument("--config", required=True, metavar="NAME", help="a pixel configuration")
    p.add_argument("--samples", type=_positive_int, default=16_000, help="frames (80%% to train)")
    p.add_argument("--steps", type=_positive_int, default=600, help="Adam steps of batch 256")
    p.add_argument("--seed", type=_non_negative_int, default=0)
    p.add_argument("--threads", type=_thread_count,
                   help=f"torch CPU threads, up to {MAX_THREADS} (default: torch's)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a TrainConfig field (repeatable)")
    p.add_argument("--settings", metavar="SET", help=f"settings set, one of {SETS} (default: {DEFAULT_SETTINGS})")
    p.add_argument("--json", metavar="PATH", help="also write the result as JSON (atomically)")
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser("calibration-report",
                       help="tables of the calibration stages (docs/calibration.md)")
    p.add_argument("--root", required=True, type=_folder, help="the calibration's results folder")
    p.add_argument("--spec", required=True, help="the workflow's `calibration` config as JSON")
    p.add_argument("--out", required=True, help="markdown report; CSV tables go beside it")
    p.set_defaults(func=cmd_calibration_report)

    p = sub.add_parser("yu-chen",
                       help="Yu & Chen's claims and claim 4's second half, gathered from the "
                            "reports that decide them (docs/yu-chen-protocol.md)")
    p.add_argument("--reports", nargs="*", default=[], metavar="NAME=PATH",
                   help="reports with a `claims` list (trained-encoders.json, recovery.json); a "
                        "missing file is listed as not run yet")
    p.add_argument("--a2c-control", metavar="CSV",
                   help="the A2C calibration's confirm.csv, checked against 41.5")
    p.add_argument("--out", required=True, help="markdown report; its .json twin goes beside it")
    p.set_defaults(func=cmd_yu_chen)

    p = sub.add_parser("calibration-winner",
                       help="apply a calibration's preregistered winner rule to its screen "
                            "(docs/yu-chen-protocol.md)")
    p.add_argument("--root", required=True, type=_folder, help="the calibration's results folder")
    p.add_argument("--spec", required=True, help="the workflow's `calibration` config as JSON")
    p.add_argument("--stage", required=True,
                   help="the stage that confirms a winner (its `from` names the screened stage)")
    p.add_argument("--out", help="JSON file (default: {root}/{stage}-winner.json)")
    p.set_defaults(func=cmd_calibration_winner)

    p = sub.add_parser("probe-table", help="one table from probe JSON files "
                                           "({root}/probe/{config}/seed{seed}.json)")
    p.add_argument("results", nargs="+", metavar="JSON", help="probe results (--json files)")
    p.add_argument("--out", required=True, help="markdown file; a .csv twin is written beside")
    p.set_defaults(func=cmd_probe_table)

    p = sub.add_parser("settings-table",
                       help="the claims' verdicts under each settings set, side by side")
    p.add_argument("--claims", nargs="+", required=True, metavar="SET=PATH",
                   help="each settings set's claims.json")
    p.add_argument("--out", required=True, help="markdown file")
    p.set_defaults(func=cmd_settings_table)

    p = sub.add_parser("precision-report",
                       help="does opt-in bf16 learn like float32? (docs/precision.md)")
    p.add_argument("--summary", nargs=2, required=True, metavar="ARM=FOLDER",
                   help="the summary folders of the arms, fp32 first: fp32=DIR bf16=DIR")
    p.add_argument("--out", required=True, help="folder for precision.md, .json and figures/")
    p.set_defaults(func=cmd_precision_report)


def _tool_commands(sub) -> None:
    """Subcommands: bench, compare, rerun-check: tools for a person at the keyboard."""
    from jepa_bench.config import PAPER_CONFIGS

    p = sub.add_parser("bench", help="throughput table: env steps/s, update time, FLOPs, MFU")
    p.add_argument("--configs", nargs="+", default=list(PAPER_CONFIGS), metavar="NAME")
    p.add_argument("--threads", nargs="+", type=_thread_count_or_all, default=[1, 0],
                   help="torch thread counts to measure (0 = torch's default, all cores)")
    p.add_argument("--updates", type=_positive_int, default=2, help="timed updates per row")
    p.add_argument("--profile", action="store_true",
                   help="instead of the table: per configuration (default settings set, v2) env "
                        "steps/s, rollout and update time, FLOPs per env step (rollout + update), "
                        "MFU against a matmul peak measured in between; median (min-max)")
    p.add_argument("--levers", action="store_true",
                   help="time ratios of the levers against today's minibatch step, interleaved "
                        "in one process (first of --configs, first of --threads)")
    p.add_argument("--pairing", action="store_true",
                   help="instead of the table, or after --profile/--levers: two one-thread "
                        "training processes side by side "
                        "against one two-thread process and one one-thread process (first of "
                        "--configs), interleaved rounds; run it on otherwise idle cores")
    p.add_argument("--pairing-steps", type=_positive_int, default=3000,
                   help="env steps per training process (--pairing)")
    p.add_argument("--rounds", type=_positive_int, default=7,
                   help="interleaved rounds (--levers, --pairing)")
    p.add_argument("--steps", type=_positive_int, default=3,
                   help="minibatch steps per variant and round (--levers)")
    p.add_argument("--no-compile", action="store_true",
                   help="leave out the torch.compile lever (it compiles for about a minute)")
    p.add_argument("--json", metavar="PATH",
                   help="also write --profile/--levers/--pairing results as JSON")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("compare", help="are two run folders the same run, timing columns aside?")
    p.add_argument("run_a", metavar="RUN_A")
    p.add_argument("run_b", metavar="RUN_B")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("rerun-check",
                       help="rerun a run folder from its run.json command and say: same run, "
                            "same distribution (inside its seeds' spread) or different")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished run folder, e.g. "
                   "results/v2/runs/j1g1r0/seed0")
    p.add_argument("--seeds-of", metavar="CONFIG_DIR",
                   help="folder of the configuration's seed*/ run folders (default: RUN_DIR's "
                        "parent)")
    p.add_argument("--out", help="folder of the rerun (default: a new temporary folder)")
    p.set_defaults(func=cmd_rerun_check)


def _sweep_and_audit_commands(sub) -> None:
    """Subcommands: the sensitivity sweep, the trained-encoder probe and the theory audit."""
    from jepa_bench.config import SETTINGS

    SETS = ", ".join(SETTINGS)  # noqa: N806  (a help text)

    p = sub.add_parser("sensitivity-aggregate",
                       help="one point of the sensitivity sweep: check its runs, then the "
                            "summary tables (docs/sensitivity.md)")
    _sweep_arguments(p)
    p.add_argument("--point", required=True)
    p.add_argument("--total-steps", type=_positive_int, required=True)
    p.add_argument("--settings", required=True, metavar="SET", choices=SETTINGS,
                   help=f"one of {SETS}")
    p.add_argument("--out", required=True, help="the point's summary folder")
    p.set_defaults(func=cmd_sensitivity_aggregate)

    p = sub.add_parser("sensitivity-report",
                       help="robustness.md over the sweep's points: claim by claim, point by "
                            "point; contrast and gradient-share figures")
    _sweep_arguments(p)
    p.add_argument("--through", help="the last point built (default: all)")
    p.add_argument("--record", nargs="*", metavar="NAME=CLAIMS_JSON",
                   help="committed claims shown beside the points, not counted")
    p.add_argument("--figures", help="folder for contrast and gradient_share (.png, .pdf)")
    p.add_argument("--out", required=True, help="robustness.md (its .json twin beside it)")
    p.set_defaults(func=cmd_sensitivity_report)

    p = sub.add_parser("probe-frozen",
                       help="frozen probe of a run's encoder snapshots: R² per state component "
                            "(docs/trained-encoders.md)")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders with encoder/")
    p.add_argument("--samples", type=_positive_int, default=16_000,
                   help="frame stacks, a third from each policy, 20%% of each held out "
                        "(the preregistered number is the default)")
    p.add_argument("--threads", type=_thread_count,
                   help=f"torch CPU threads, up to {MAX_THREADS} (default: torch's)")
    p.add_argument("--json", metavar="PATH", help="write the result as JSON (atomically)")
    p.set_defaults(func=cmd_probe_frozen)

    p = sub.add_parser("trained-encoders",
                       help="what trained encoders keep: table, figure, Proposition 2 and "
                            "claim 4's second half from probe-frozen results")
    p.add_argument("--probes", nargs="+", required=True, help="probe-frozen JSON files, one a run")
    p.add_argument("--figures", help="folder for trained_encoders.png/.pdf")
    p.add_argument("--out", required=True, help="markdown report; .json and .csv beside it")
    p.add_argument("--exploratory", metavar="WHY", type=_sentence,
                   help="mark the report exploratory (probes no protocol asked for): WHY, one "
                        "sentence, heads it, and its verdicts are labelled descriptive")
    p.set_defaults(func=cmd_trained_encoders)

    p = sub.add_parser("theory", help="numerical check of Propositions 1 and 2 (Yu & Chen)")
    p.add_argument("--seed", type=_non_negative_int, default=0)
    p.add_argument("--out", help="also write the markdown report here")
    p.set_defaults(func=cmd_theory)


def build_parser() -> argparse.ArgumentParser:
    """The command line: one subparser per subcommand, in the groups above."""
    from jepa_bench import __version__

    parser = _Parser(prog="jepa-bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"jepa-bench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in (_run_commands, _figure3_commands, _study_commands, _tool_commands,
                _sweep_and_audit_commands):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        return args.func(args)
    except (ValueError, RunFolderError) as exc:
        print(f"jepa-bench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
        if not is_output(args, exc.filename):  # an input that is not there
            what = {FileNotFoundError: "no such file",
                    NotADirectoryError: "a part of that path is a file, not a folder",
                    IsADirectoryError: "it is a folder, not a file"}[type(exc)]
            print(f"jepa-bench {args.command}: error: cannot read {exc.filename or exc}: "
                  f"{what}; run the stage that writes it or give the right path",
                  file=sys.stderr)
            return 2
        return _write_error(args, exc)
    except OSError as exc:  # an unwritable --out, a full disk: one line naming the file
        return _write_error(args, exc)
    except TrainingDiverged as exc:
        print(f"jepa-bench {args.command}: training diverged: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C outside a training loop (which stops on its own)
        print(f"jepa-bench {args.command}: interrupted; files are written whole or not at all, "
              "so run the same command again", file=sys.stderr)
        return 128 + signal.SIGINT.value


OUTPUT_OPTIONS = ("out", "json", "figures")
"""The options that name what a subcommand writes (recovery's and recovery-shared's --summary
too)."""


def output_option(args, filename) -> str | None:
    """The option (say "--json") naming the output that `filename` is, lies inside, or is a
    folder of (the folder that could not be made); None when it is none of them."""
    if not filename:
        return None
    keys = list(OUTPUT_OPTIONS) + (["summary"] if args.command in ("recovery", "recovery-shared")
                                   else [])
    path = Path(filename).absolute()
    for key in keys:
        name = getattr(args, key, None)
        out = Path(name).absolute() if name else None
        if out is not None and (path == out or out in path.parents or path in out.parents):
            return "--" + key.replace("_", "-")
    return None


def is_output(args, filename) -> bool:
    """Whether `filename` is one of the outputs the command line names (output_option)."""
    return output_option(args, filename) is not None


def _write_error(args, exc: OSError) -> int:
    where = exc.filename or "a file"
    space = " or free some space" if exc.errno == errno.ENOSPC else ""
    option = output_option(args, exc.filename) or "--out"
    print(f"jepa-bench {args.command}: error: cannot use {where}: {exc.strerror or exc}; "
          f"nothing was overwritten: give {option} a path you can write{space}",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
