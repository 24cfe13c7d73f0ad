"""The audit's entry points: ``run_theory_checks`` (both propositions and the findings, as one
JSON-ready dict) and ``format_theory_report`` (that dict as markdown, what `jepa-bench theory` writes to
theory.md).

Owns the conventions stated in the report and its layout; every number comes from the result.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from jepa_bench.studies.theory.construction import check_prop1, check_prop2
from jepa_bench.studies.theory.findings import GROUPS, paper_findings
from jepa_bench.studies.theory.mdp import TheoryConfig, make_problem
from jepa_bench.analysis.verdicts import json_safe

# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def run_theory_checks(
    seed: int = 0, config: TheoryConfig | None = None, *, findings: bool = True
) -> dict:
    """Build both constructions for `seed`, run every check, and test the paper's claims.
    Returns a JSON-serialisable dict: {'seed', 'config', 'conventions', 'prop1', 'prop2',
    'findings', 'all_checks_pass', 'ok'}; 'ok' (= all_checks_pass) is True when both
    constructions pass every check. Findings about the paper never make it False."""
    cfg = TheoryConfig() if config is None else config
    prop1 = check_prop1(make_problem(seed, cfg, collapse="full"), cfg)
    prop2 = check_prop2(make_problem(seed, cfg, collapse="pair"), cfg)
    result = {
        "seed": seed,
        "config": dataclasses.asdict(cfg),
        "conventions": CONVENTIONS,
        "prop1": prop1,
        "prop2": prop2,
        "findings": paper_findings(seed, cfg, prop1=prop1, prop2=prop2) if findings else [],
        "all_checks_pass": prop1["status"] == "pass" and prop2["status"] == "pass",
    }
    result["ok"] = result["all_checks_pass"]  # what the CLI turns into its exit status
    return json_safe(result, nan_as_none=False)


CONVENTIONS = {
    "J_PG": "-mu0^T V^pi, the negative expected discounted return from the (uniform) start "
    "distribution mu0; V^pi by solving (I - gamma P_pi) V = r_pi",
    "d_pi": "unnormalised discounted occupancy d(s) = sum_t gamma^t Pr(s_t = s | s_0 ~ mu0, pi) "
    "of the unperturbed policy",
    "fixed_distribution": "J_fix(pi') = -sum_s d_pi(s) sum_a pi'(a|s) Q^pi(s, a), with d_pi and "
    "Q^pi frozen",
    "full_objective": "J_PG(pi') re-evaluated exactly, so d_pi, V and Q all move with pi'",
    "J_JEPA": "sum over one fixed rollout (horizon transitions) of "
    "||W_psi(E(s_t), a_t) - E(s_{t+1})||^2, lambda = 1",
    "world_model": "W_psi(z, a) = M_a z + B_a tanh(A_a z + c_a) + h_a, "
    "L = max_a ||M_a|| + ||B_a|| ||A_a||",
    "signs": "eq. (1) is maximised; the propositions minimise J = J_PG + J_JEPA, and so does "
    "this audit: a ratio dJ / (-k1 k eps) -> +1 confirms that J_PG falls",
    "k": "k_factor x 2C/k1 with the paper's C = 2 m L E_max (m = steps leaving s_delta, "
    "E_max = max residual norm over the batch)",
}


# --------------------------------------------------------------------------------------------
# Markdown report
# --------------------------------------------------------------------------------------------


def _g(x: Any, digits: int = 4) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(x)
    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf"
        return f"{x:.{digits}g}" if x != 0 else "0"
    if isinstance(x, list):
        return "[" + ", ".join(_g(v, 3) for v in x) + "]"
    return str(x)


def _prop_section(title: str, prop: dict) -> list[str]:
    status = f"**Status: {prop['status']}**"
    if prop["failed_assumptions"]:
        status += f" — failed assumption(s): {', '.join(prop['failed_assumptions'])}"
    out = [f"## {title}", "", status, ""]
    out += ["| assumption | holds | in paper | detail |", "|---|---|---|---|"]
    for name, a in prop["assumptions"].items():
        out.append(f"| {name} | {_g(a['holds'])} | {_g(a['stated_in_paper'])} | {a['detail']} |")
    out.append("")
    c = prop.get("construction")
    if c is None:
        return out + ["Construction not run: an assumption fails.", ""]
    j, h, lim = c["jepa"], c["headline"], c["ratio_limit_by_reading_of_d_pi"]
    out += [
        f"- moved state s = {c['s_move']}, a_Δ = {c['a_delta']}, p(a_Δ) = {_g(c['p_a_delta'])}, "
        f"A(s, a_Δ) = {_g(c['advantage'])}, d_pi(s) = {_g(c['d_pi']['occupancy_unnormalised'])}",
        f"- row·u = {_g(c['row_dot_u'])} (1 in Prop. 1, w·u in Prop. 2), "
        f"max|W u| = {_g(c['max_abs_W_u'])}, u·z = {_g(c['u_dot_z'])}",
        f"- k1 = {_g(c['k1'])}; JEPA: {j['m_leaving']} steps leave s, {j['n_entering']} enter, "
        f"L = {_g(j['lipschitz'])}, E_max = {_g(j['e_max'])}, "
        f"C = 2 m L E_max = {_g(j['C_paper'])} (corrected C = {_g(j['C_corrected'])})",
        f"- k = {_g(c['k'])} (paper threshold 2C/k1 = {_g(j['k_threshold_paper'])}); "
        f"logit tolerance {_g(c['logit_tolerance'], 3)}",
        f"- total loss change at kε = {_g(h['k_eps'])} (ε = {_g(h['eps'])}): "
        f"ΔJ = {_g(h['dj_total'])} (ΔJ_PG = {_g(h['dj_pg_full'])}, ΔJ_JEPA = {_g(h['dj_jepa'])})",
        f"- the paper's JEPA bound (5) held on this grid (L = {_g(j['lipschitz'])}, the generic "
        f"u of the construction): {_g(c['paper_jepa_bound_holds'])}",
        "- ratio_fix = ΔJ_fix / (−k1 k ε), the fixed-distribution surrogate (d_pi and Q^pi "
        "frozen); ratio_full = ΔJ_full / (−k1 k ε), J_PG re-evaluated exactly",
        "",
        "| kε | ε | max other-state Δlogit | Δlogit(a_Δ) − kε·row·u | ΔJ_fix "
        "| ratio_fix (surrogate) | ΔJ_full | ratio_full (exact J_PG) | full − fix | ΔJ_JEPA "
        "| Cε+C'ε² (paper) | ΔJ_total |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in c["grid"]:
        cells = [
            _g(r["k_eps"]),
            _g(r["eps"]),
            _g(r["max_other_state_logit_change"], 2),
            _g(r["logit_increment"] - r["logit_increment_expected"], 2),
            _g(r["dj_pg_fixed"]),
            f"{r['ratio_fixed']:.8f}",
            _g(r["dj_pg_full"]),
            f"{r['ratio_full']:.8f}",
            _g(r["full_minus_fixed"], 3),
            _g(r["dj_jepa"]),
            _g(r["jepa_bound_paper"]),
            _g(r["dj_total"]),
        ]
        out.append("| " + " | ".join(cells) + " |")
    o = c["orders"]
    out += [
        "",
        "Observed orders (log-ratio of successive errors per decade of kε): "
        f"ratio_fix − 1: {_g(o['fixed_ratio_error'])}; "
        f"ratio_full − 1: {_g(o['full_ratio_error'])}; "
        f"full − fix: {_g(o['full_minus_fixed'])}.",
        "",
        "Limit of ΔJ_full / (−k1 k ε) when d_pi(s) in k1 is read as: unnormalised discounted "
        f"occupancy {_g(lim['occupancy_unnormalised'])}; start distribution "
        f"{_g(lim['start_distribution'])}; normalised occupancy {_g(lim['occupancy_normalised'])}.",
        "",
        "| check | pass | value | tolerance | what |",
        "|---|---|---|---|---|",
    ]
    for name, ch in prop["checks"].items():
        cells = [name, _g(ch["passed"]), _g(ch["value"], 3), _g(ch["tolerance"], 3), ch["detail"]]
        out.append("| " + " | ".join(cells) + " |")
    return out + [""]


def _evidence_line(key: str, value: Any) -> str:
    if isinstance(value, dict):
        return f"- {key}: " + ", ".join(f"{k} = {_g(v)}" for k, v in value.items())
    return f"- {key}: {_g(value)}"


def format_theory_report(result: dict) -> str:
    """Markdown report of a `run_theory_checks` result."""
    cfg = result["config"]
    out = [
        f"# Yu & Chen, Propositions 1 and 2: numerical audit (seed {result['seed']})",
        "",
        f"All construction checks pass: **{_g(result['all_checks_pass'])}**",
        "",
        "Conventions:",
        "",
        *(f"- **{k}**: {v}" for k, v in result["conventions"].items()),
        f"- sizes: |S| = {cfg['n_states']}, |A| = {cfg['n_actions']}, d = {cfg['latent_dim']}, "
        f"γ = {cfg['gamma']}, rollout {cfg['horizon']} steps, L = {cfg['lipschitz']}, "
        f"k_factor = {cfg['k_factor']}",
        "",
    ]
    out += _prop_section("Proposition 1 (fully collapsed encoder)", result["prop1"])
    out += _prop_section("Proposition 2 (two collapsed states)", result["prop2"])
    if result["findings"]:
        out += _findings_section(result["findings"])
    return "\n".join(out)


def _findings_section(findings: list[dict]) -> list[str]:
    out = ["## What the audit finds", "",
           "Findings 1 and 3 are gaps in the proofs: the propositions' statements still hold. "
           "Finding 2 is a missing assumption and the findings 4 are clarifications. Each says "
           "what it means for the proposition's statement; the numbers are this run's.", ""]
    for group, title in GROUPS.items():
        members = sorted((f for f in findings if f["group"] == group),
                         key=lambda f: f["number"])
        if not members:
            continue
        out += [f"### {title}", ""]
        for f in members:
            out += [f"#### Finding {f['number']} ({f['id']}): {f['verdict']}", ""]
            out += [f"- the proposition's statement: {f['statement']}",
                    f"- claim: {f['claim']}", f"- probe: {f['probe']}"]
            out += [_evidence_line(k, v) for k, v in f["evidence"].items()]
            out.append("")
    return out
