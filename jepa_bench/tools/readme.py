"""The README's findings, written from the committed reports so that its numbers cannot drift.

    python -m jepa_bench.tools.readme            # rewrite the generated blocks of README.md
    python -m jepa_bench.tools.readme --check    # exit 1, with a diff, when README.md is stale

The README holds generated text between ``<!-- generated:NAME -->`` and
``<!-- /generated:NAME -->``; everything else in it is written by hand and carries no result.
The ``findings`` block is Figure 3 of the default preset, the claims table with the verdict under
each settings set (the default preset's and those it compares with, `compare_settings` in
workflow/config/config.yaml) and the sensitivity sweep's robustness column once
results/sensitivity/robustness.json exists, and the definitions behind the numbers. The
``yu-chen`` block is the default preset's yu-chen.json: Yu & Chen's claims and the second half of
claim 4, each with the verdict of the report that decides it.

Owns the README's wording of a verdict and of the evidence that decided it. Reads claims.json
files (written by jepa_bench.analysis.claims) and robustness.json (jepa_bench.studies.sensitivity)
and never re-derives a verdict; writes README.md only, never anything under results/.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from pathlib import Path

import yaml

from jepa_bench.analysis.verdicts import first_detail, sci
from jepa_bench.config import get_config
from jepa_bench.metrics import atomic_write_text, read_json

__all__ = ["claim_evidence", "findings", "render", "main", "yu_chen"]

REPO = Path(__file__).resolve().parents[2]
README = "README.md"
DEFAULT_PRESET = "workflow/config/config.yaml"
ROBUSTNESS = "results/sensitivity/robustness.json"
BLOCK = re.compile(r"(<!-- generated:(?P<name>[\w-]+) -->\n)(?P<body>.*?)"
                   r"(<!-- /generated:(?P=name) -->)", re.S)
VERDICT_ORDER = ("reproduced", "not reproduced", "inconclusive", "inconclusive (not run)")


# --- the evidence of one verdict ----------------------------------------------------------------

def _ci(x: dict, digits: int = 1) -> str:
    return f"{x['mean']:.{digits}f} (CI {x['low']:.{digits}f} to {x['high']:.{digits}f})"


def _notation(name: str) -> str:
    return get_config(name).notation


def _check_evidence(numbers: dict, thresholds: dict) -> str | None:
    """A check's numbers in a few words, or None for a layout this module does not know."""
    keys = set(numbers)
    if {"final_return", "t_learn"} <= keys:
        return f"final return {_ci(numbers['final_return'])} vs T_learn {numbers['t_learn']:.1f}"
    if {"auc", "others"} <= keys:
        name, best = max(numbers["others"].items(), key=lambda kv: kv[1]["mean"])
        return f"AUC {_ci(numbers['auc'])}; highest other: {_notation(name)} {_ci(best)}"
    if {"auc", "reference_auc"} <= keys:
        return (f"AUC {_ci(numbers['auc'])} vs J, ∇, R̂'s {_ci(numbers['reference_auc'])}")
    if "late_slope" in keys:
        return f"late slope {_ci(numbers['late_slope'], 2)} per 1000 steps"
    if {"collapsed_seeds", "seeds_with_embed_var"} <= keys:
        return (f"{numbers['collapsed_seeds']} of {numbers['seeds_with_embed_var']} seeds "
                f"collapse (variance below {sci(thresholds['collapse'], 0)})")
    return None


def claim_evidence(claim: dict, thresholds: dict) -> str:
    """What decided a claim's verdict, in a few words: the first failing check of a claim not
    reproduced, the first undecided one of an inconclusive claim, the first check of a
    reproduced one; every logged embedding variance's range where each check is one."""
    checks = claim.get("checks") or []
    if not checks:
        return ""
    if all({"min", "max"} <= set(c["numbers"]) for c in checks):
        low = min(c["numbers"]["min"] for c in checks)
        high = max(c["numbers"]["max"] for c in checks)
        runs = sum(c["numbers"].get("runs", 0) for c in checks)
        return f"every logged variance of {runs} runs in [{sci(low)}, {sci(high)}]"
    wanted = {"not reproduced": False, "inconclusive": None}.get(claim["verdict"], True)
    deciding = [c for c in checks if c["result"] is wanted] or checks
    for check in deciding:
        text = _check_evidence(check["numbers"], thresholds)
        if text:
            return text
    return deciding[0].get("detail", "")


# --- the findings block -------------------------------------------------------------------------

def _sets(repo: Path) -> dict[str, Path]:
    """Settings set -> its claims.json, for the default preset and the sets it compares with."""
    preset = yaml.safe_load((repo / DEFAULT_PRESET).read_text())
    sets = {name: repo / path for name, path in preset["compare_settings"].items()}
    sets[preset["settings"]] = repo / preset["results_root"] / "claims.json"
    return sets


def _listing(ids: list) -> str:
    ids = [str(i) for i in ids]
    return ids[0] if len(ids) == 1 else ", ".join(ids[:-1]) + " and " + ids[-1]


def _summary(name: str, report: dict) -> str:
    """One sentence: which claims got which verdict under one settings set."""
    by_verdict: dict[str, list] = {}
    for claim in report["claims"]:
        by_verdict.setdefault(claim["verdict"], []).append(claim["id"])
    order = [v for v in VERDICT_ORDER if v in by_verdict]
    order += sorted(set(by_verdict) - set(order))
    return f"Under {name}: " + "; ".join(f"{v} {_listing(by_verdict[v])}" for v in order) + "."


def _robustness(repo: Path) -> dict[int, str] | None:
    """Per claim: at how many of the sweep's points run it is reproduced, and each point whose
    verdict differs from the centre's, with that verdict (None before the sweep has results)."""
    path = repo / ROBUSTNESS
    if not path.is_file():
        return None
    rows = read_json(path)["robustness"]["claims"]
    return {row["id"]: f"reproduced at {row['holds']} of {row['of']} points"
            + "".join(f"<br>differs from the centre at {point}: "
                      f"{row['cells'][point]['verdict']}" for point in row["flipped_by"])
            for row in rows}


def _robustness_summary(sweep: dict, complete: bool = False) -> str:
    """In plain words, over the points run: which claims are reproduced at every point, at none
    and at some, and which verdicts change from point to point, at which points (with their
    axes). `complete`: every planned point has run, so the words drop "so far"."""
    rows = sweep["robustness"]["claims"]
    axes = sweep.get("axes", {})
    groups = (("reproduced at every point" + ("" if complete else " run"), [r["id"] for r in rows
                                                 if r["of"] and r["holds"] == r["of"]]),
              ("at none", [r["id"] for r in rows if r["of"] and r["holds"] == 0]),
              ("at some", [f"{r['id']} ({r['holds']} of {r['of']})" for r in rows
                           if 0 < r["holds"] < r["of"]]))
    parts = [f"{what}: claim{'s' if len(ids) > 1 else ''} {_listing(ids)}"
             for what, ids in groups if ids]
    if not parts:
        return ""
    changed = []
    for r in rows:
        if r["flipped_by"]:
            moves: dict[str, dict[str, list]] = {}  # {verdict: {axis: [points]}}
            for point in r["flipped_by"]:
                moves.setdefault(r["cells"][point]["verdict"], {}).setdefault(
                    axes.get(point, ""), []).append(point)
            changed.append(f"claim {r['id']} goes from {r['cells']['centre']['verdict']} "
                           + " and ".join(f"to {v} at " + _listing(
                               [_listing(points) + (f" ({axis})" if axis else "")
                                for axis, points in at.items()]) for v, at in moves.items()))
    return (("Over all its points, " if complete else "So far, ") + "; ".join(parts) + "."
            + (" The centre's verdict changes with the point: " + "; ".join(changed) + "."
               if changed else " No point changes a verdict of the centre's.") + " ")


def findings(repo: Path = REPO) -> str:
    """The findings block: Figure 3, the claims table, a summary line, the definitions."""
    sets = _sets(repo)
    reports = {name: read_json(path) for name, path in sets.items()}
    default = list(reports)[-1]
    main = reports[default]
    seeds = len(main["runs"]["seeds"])
    figure = (sets[default].parent / "figures" / "fig3_return.png").relative_to(repo)
    robust = _robustness(repo)
    header = ["#", "the paper's claim", *(f"{n} (default)" if n == default else n for n in reports)]
    header += ["robustness (sensitivity sweep)"] if robust else []
    image = (f"![Figure 3 replica under settings set {default}: running return of the paper's "
             f"four configurations, mean and 95 % bootstrap CI over {seeds} seeds]({figure})")
    summary = " ".join(_summary(f"{n} (the default)" if n == default else n, reports[n])
                       for n in reversed(reports))
    lines = [summary, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for claim in main["claims"]:
        cells = [str(claim["id"]), claim["statement"]]
        for report in reports.values():
            match = next((c for c in report["claims"] if c["id"] == claim["id"]), None)
            cells.append("not run" if match is None else
                         f"**{match['verdict']}**<br>{claim_evidence(match, report['thresholds'])}")
        if robust:
            cells.append(robust.get(claim["id"], "not run"))
        lines.append("| " + " | ".join(cells) + " |")
    t, base = main["thresholds"], main["random_baseline"]
    lines += ["", image, "",
              f"Final return: the mean of a run's last {t['return_window']} episodes; AUC: its "
              f"time-averaged running return; each the mean over {seeds} seeds with a "
              f"{t['ci_level'] * 100:g} % bootstrap CI. T_learn = {t['t_learn']:.1f}: the return "
              f"of a random policy, {base['mean']:.1f} over {base['episodes']} measured episodes, "
              f"plus one SD. Collapse: embedding variance below {sci(t['collapse'], 0)}. Written "
              "by `python -m jepa_bench.tools.readme` from "
              + ", ".join(f"`{p.relative_to(repo)}`" for p in sets.values()) + "."]
    if robust:
        sweep = read_json(repo / ROBUSTNESS)
        missing = [p for p in sweep["planned"] if p not in sweep["done"]]
        lines += ["", "Robustness: the preregistered sensitivity sweep ([docs/sensitivity.md]"
                      "(docs/sensitivity.md)) has run "
                  + (f"{len(sweep['done'])} of its {len(sweep['planned'])} points; not yet run: "
                     f"{', '.join(missing)}" if missing else
                     f"all {len(sweep['planned'])} of its points")
                  + f" (`{ROBUSTNESS.replace('.json', '.md')}`; what each point showed: "
                    "[docs/sensitivity-study.md](docs/sensitivity-study.md)). "
                  + _robustness_summary(sweep, complete=not missing)
                  + "A claim reproduced at one point of m is weak evidence; no point is picked "
                    "as the right one."]
    if not robust:
        lines += ["", "The preregistered sensitivity sweep ([docs/sensitivity.md]"
                      "(docs/sensitivity.md)) has no results yet; a robustness column joins this "
                      f"table when `{ROBUSTNESS}` exists."]
    return "\n".join(lines) + "\n"


def yu_chen(repo: Path = REPO) -> str:
    """The yu-chen block: each of Yu & Chen's claims (and claim 4's second half) with the verdict
    of the report that decides it, from the default preset's yu-chen.json."""
    preset = yaml.safe_load((repo / DEFAULT_PRESET).read_text(encoding="utf-8"))
    path = repo / preset["results_root"] / "yu-chen.json"
    if not path.is_file():
        return (f"Not gathered yet: `{path.relative_to(repo)}` is written by the default "
                "preset's `yu_chen` experiment.\n")
    gathered = read_json(path)
    claims = gathered["claims"]
    lines = ["| claim | what it says | verdict | the first number behind it |",
             "|---|---|---|---|"]
    for c in claims:
        claim = c["source"] if c["id"] == "-" else f"{c['source']}: {c['id']}"
        lines.append(f"| {claim} | {c['statement']} | **{c['verdict']}** | "
                     f"{first_detail(c) or '-'} |")
    sources = gathered.get("sources") or {}
    lines += ["", f"Gathered by the default preset's `yu_chen` experiment into "
                  f"`{path.relative_to(repo).with_suffix('.md')}` from the reports that decide "
                  "each verdict (each names its criterion, fixed before its runs); written here by "
                  "`python -m jepa_bench.tools.readme`. "
                  + ("Each row's first word is its report: "
                     + "; ".join(f"{n} `{p}`" for n, p in sources.items()) + ". "
                     if sources else "")
                  + "A component is n/a in a Proposition 2 row when no seed's random encoder "
                  "(step 0) read it at the drop level, so it cannot be dropped."]
    return "\n".join(lines) + "\n"


BLOCKS = {"findings": findings, "yu-chen": yu_chen}


def render(text: str, repo: Path = REPO) -> str:
    """The README text with every generated block written anew; ValueError for a block this
    module does not know."""
    def block(match: re.Match) -> str:
        name = match["name"]
        if name not in BLOCKS:
            raise ValueError(f"README block '{name}' is not one of {sorted(BLOCKS)}")
        return match[1] + BLOCKS[name](repo) + match[4]
    return BLOCK.sub(block, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jepa_bench.tools.readme",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 with a diff when README.md is stale")
    parser.add_argument("--repo", type=Path, default=REPO, help="the repository root")
    args = parser.parse_args(argv)
    path = args.repo / README
    text = path.read_text(encoding="utf-8")
    new = render(text, args.repo)
    if args.check:
        if new != text:
            sys.stdout.writelines(difflib.unified_diff(
                text.splitlines(True), new.splitlines(True), "README.md", "rendered"))
            print("README.md is stale: run python -m jepa_bench.tools.readme", file=sys.stderr)
            return 1
        return 0
    if new != text:
        atomic_write_text(path, new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
