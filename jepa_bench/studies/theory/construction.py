"""The paper's construction and its checks: move one state's code by eps*u, tweak the policy
head by dW = k e_{a_delta} r^T, and check each step of the argument numerically; Propositions 1
and 2 as assumptions plus that construction.

Owns the checks' tolerances, statuses ('pass', 'fail', 'assumption_failed') and the
per-proposition result dicts. Builds on mdp.py; must not word findings or reports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg import null_space

from jepa_bench.studies.theory.mdp import (FiniteMDP, PolicyEvaluation, Problem, TheoryConfig,
                                   evaluate_policy, jepa_increment, jepa_loss, jepa_residuals,
                                   softmax_policy)

# --------------------------------------------------------------------------------------------
# The construction and its checks (shared by both propositions and the findings)
# --------------------------------------------------------------------------------------------


def unit_with_sign(v: np.ndarray) -> np.ndarray:
    """Normalise and fix the sign (largest entry positive) so results do not depend on LAPACK."""
    v = v / np.linalg.norm(v)
    return v if v[np.argmax(np.abs(v))] > 0 else -v


def _check(passed: bool, value: Any, tolerance: Any, detail: str) -> dict:
    return {"passed": bool(passed), "value": value, "tolerance": tolerance, "detail": detail}


def _assumption(holds: bool, detail: str, stated_in_paper: bool = True) -> dict:
    return {"holds": bool(holds), "detail": detail, "stated_in_paper": stated_in_paper}


def _order(errors: Sequence[float], steps: Sequence[float]) -> list[float | None]:
    """Observed convergence order between consecutive grid points,
    log(e_i / e_{i+1}) / log(h_i / h_{i+1})."""
    orders = []
    for i in range(len(errors) - 1):
        e0, e1 = errors[i], errors[i + 1]
        if e0 > 0 and e1 > 0:
            orders.append(math.log(e0 / e1) / math.log(steps[i] / steps[i + 1]))
        else:
            orders.append(None)
    return orders


def _converges(errors: Sequence[float], floors: Sequence[float], tol: float) -> tuple[bool, float]:
    """First-order convergence of a ratio along the grid (largest k*eps first).

    Only grid points whose rounding floor is below `tol` can resolve the first-order term; with a
    very large k (tiny w.u) the smallest k*eps cannot. Over the resolvable points the error must
    shrink (or already sit at its floor), and the last one must be below `tol`. Returns
    (passed, error at the last resolvable point)."""
    usable = [i for i, f in enumerate(floors) if f < tol]
    if len(usable) < 2:
        return False, math.inf
    errs = [errors[i] for i in usable]
    flo = [floors[i] for i in usable]
    steps = zip(errs, errs[1:], flo[1:], strict=False)
    monotone = all(e1 <= e0 or e1 <= f1 for e0, e1, f1 in steps)
    return monotone and errs[-1] <= tol, errs[-1]


@dataclass(frozen=True)
class _FirstOrder:
    """The unperturbed policy at the moved state and the first-order slope of J_PG there."""

    d_s: float  # d_pi(s_move), the unnormalised discounted occupancy
    p_a: float  # pi(a_delta | s_move)
    advantage: float  # A(s_move, a_delta)
    gain: float  # row . u: 1 for Prop. 1, w^T u for Prop. 2
    drift: np.ndarray  # W u, the logit drift from moving the code; 0 in the paper's constructions
    k1: float  # d(s) p_a A(s, a) (row . u)
    c0: float  # d(s) sum_a p_a A(s, a) (W u)_a


def _first_order(
    W: np.ndarray,
    ev: PolicyEvaluation,
    pi0: np.ndarray,
    s_move: int,
    a_delta: int,
    u: np.ndarray,
    row: np.ndarray,
) -> _FirstOrder:
    """k1 and c0 of the first-order slope -(k k1 + c0) eps of J_PG, and what they are made of."""
    d_s = float(ev.occupancy[s_move])
    p = pi0[s_move]
    adv = ev.advantage[s_move]
    gain = float(row @ u)
    drift = W @ u
    k1 = d_s * float(p[a_delta]) * float(adv[a_delta]) * gain
    c0 = d_s * float(np.sum(p * adv * drift))
    return _FirstOrder(d_s, float(p[a_delta]), float(adv[a_delta]), gain, drift, k1, c0)


def _jepa_constants(problem: Problem, s_move: int) -> dict:
    """JEPA constants of dJ_JEPA <= C eps + C2 eps^2: the paper's (only steps leaving s_move) and
    the corrected ones (steps entering s_move too), keyed as in the result's 'jepa'."""
    wm, batch = problem.world_model, problem.batch
    errors = np.linalg.norm(jepa_residuals(wm, problem.codes, batch), axis=1)
    e_max = float(errors.max())
    L = float(wm.lipschitz)
    leaving = batch.states == s_move
    entering = batch.next_states == s_move
    m = int(leaving.sum())
    c_paper, c2_paper = 2.0 * m * L * e_max, m * L**2
    reach = L * leaving + 1.0 * entering  # |change of residual t| <= eps * reach_t
    c_corr, c2_corr = 2.0 * float(np.sum(reach * errors)), float(np.sum(reach**2))
    return {
        "m_leaving": m,
        "n_entering": int(entering.sum()),
        "lipschitz": L,
        "e_max": e_max,
        "C_paper": c_paper,
        "C2_paper": c2_paper,
        "C_corrected": c_corr,
        "C2_corrected": c2_corr,
    }


def _choose_k(
    cfg: TheoryConfig, k_rule: str, jepa: dict, slope: _FirstOrder, k: float | None
) -> float:
    """k = k_factor * 2 (C + max(0, -c0)) / k1 with the C of `k_rule`, unless `k` is given."""
    c_for_k = {"paper": jepa["C_paper"], "corrected": jepa["C_corrected"]}[k_rule]
    if k is None:
        need = c_for_k + max(0.0, -slope.c0)
        # a need at rounding level (no JEPA cost, W u = 0) is none: then any k > 0 will do
        k = cfg.k_factor * 2.0 * need / slope.k1 if (need > 1e-12 and slope.k1 > 0) else 1.0
    return float(k)


def _tweak_head(
    problem: Problem,
    logits0: np.ndarray,
    a_delta: int,
    row: np.ndarray,
    k: float,
    cfg: TheoryConfig,
) -> tuple[np.ndarray, float, float]:
    """The tweaked head W + k e_{a_delta} row^T, the logit tolerance for it, and the largest
    logit change the tweak alone (eps = 0) makes over all states."""
    codes = problem.codes
    e_a = np.zeros(problem.mdp.n_actions)
    e_a[a_delta] = 1.0
    dW = k * np.outer(e_a, row)
    W_new = problem.weight + dW
    zmax = float(np.linalg.norm(codes, axis=1).max())
    logit_tol = cfg.logit_rtol * (1.0 + k * float(np.linalg.norm(row)) * (zmax + 1.0))
    invisible = float(np.abs(softmax_policy(codes, W_new, problem.bias)[0] - logits0).max())
    return W_new, logit_tol, invisible


def _grid_row(
    problem: Problem,
    ev: PolicyEvaluation,
    logits0: np.ndarray,
    pi0: np.ndarray,
    W_new: np.ndarray,
    s_move: int,
    a_delta: int,
    u: np.ndarray,
    k: float,
    slope: _FirstOrder,
    jepa: dict,
    k_eps: float,
) -> dict:
    """One grid point, eps = k_eps / k: the logit changes, dJ_PG (distribution held fixed and
    full) against its first-order prediction, dJ_JEPA against both bounds, and d(J_PG + J_JEPA)."""
    mdp, codes, wm, batch = problem.mdp, problem.codes, problem.world_model, problem.batch
    z = codes[s_move]
    others = np.array([s for s in range(mdp.n_states) if s != s_move], dtype=int)
    L = jepa["lipschitz"]
    eps = k_eps / k
    new_codes = codes.copy()
    new_codes[s_move] = z + eps * u
    logits1, pi1 = softmax_policy(new_codes, W_new, problem.bias)
    dl = logits1 - logits0
    expected = eps * slope.drift.copy()
    expected[a_delta] += k * eps * slope.gain
    d_pi = pi1 - pi0
    dj_fix = -float(np.sum(ev.occupancy[:, None] * d_pi * ev.q))
    dj_full = evaluate_policy(mdp, pi1).j_pg - ev.j_pg
    pred = -(k * slope.k1 + slope.c0) * eps
    dj_jepa = jepa_increment(wm, codes, new_codes, batch)
    wm_step = max(
        float(np.linalg.norm(wm.predict(z + eps * u, a) - wm.predict(z, a)))
        for a in range(mdp.n_actions)
    )
    return {
        "k_eps": k_eps,
        "eps": eps,
        "max_other_state_logit_change": float(np.abs(dl[others]).max()) if len(others) else 0.0,
        "logit_increment": float(dl[s_move, a_delta]),
        "logit_increment_expected": float(expected[a_delta]),
        "logit_error_at_moved_state": float(np.abs(dl[s_move] - expected).max()),
        "dj_pg_fixed": dj_fix,
        "dj_pg_full": dj_full,
        "dj_pg_first_order": pred,
        "ratio_fixed": dj_fix / pred if pred != 0 else math.nan,
        "ratio_full": dj_full / pred if pred != 0 else math.nan,
        "full_minus_fixed": dj_full - dj_fix,
        "dj_jepa": dj_jepa,
        "jepa_bound_paper": jepa["C_paper"] * eps + jepa["C2_paper"] * eps**2,
        "jepa_bound_corrected": jepa["C_corrected"] * eps + jepa["C2_corrected"] * eps**2,
        "wm_step_over_L_eps": wm_step / (L * eps) if L > 0 and math.isfinite(L) else math.nan,
        "dj_total": dj_full + dj_jepa,
    }


def _rounding_floors(rows: list[dict], gain: float, j_pg: float) -> list[float]:
    """Rounding floor of the first-order ratios at each grid point: the measured logit error
    relative to the logit step, plus the rounding of J_PG itself relative to the predicted change
    (both times a safety factor 10); inf where the prediction is 0."""
    logit_err = max(
        max(r["logit_error_at_moved_state"], r["max_other_state_logit_change"]) for r in rows
    )
    return [
        10.0
        * (
            logit_err / (r["k_eps"] * max(abs(gain), 1e-300))
            + 1e-16 * (1.0 + abs(j_pg)) / abs(r["dj_pg_first_order"])
        )
        if r["dj_pg_first_order"] != 0
        else math.inf
        for r in rows
    ]


def _construction_checks(
    problem: Problem,
    rows: list[dict],
    err_fix: list[float],
    err_full: list[float],
    floors: list[float],
    invisible: float,
    logit_tol: float,
    k1: float,
    cfg: TheoryConfig,
    k_rule: str,
) -> dict:
    """The construction's checks, by name: the tweak is invisible, only the moved state's logit
    moves and by k eps, J_PG falls at first order, J_JEPA stays in its bound, J falls."""
    conv_fix = _converges(err_fix, floors, cfg.ratio_tol)
    conv_full = _converges(err_full, floors, cfg.ratio_tol)
    small = [r for r in rows if r["k_eps"] <= cfg.small_k_eps]
    jepa_slack = max(r["dj_jepa"] - r["jepa_bound_corrected"] for r in rows)
    jepa_scale = 1.0 + abs(jepa_loss(problem.world_model, problem.codes, problem.batch))
    return {
        "tweak_alone_invisible": _check(
            invisible <= logit_tol,
            invisible,
            logit_tol,
            "max |(W + dW) E(s) - W E(s)| over all states before any code moves "
            "(needs row . E(s) = 0 for every code)",
        ),
        "other_states_logits_unchanged": _check(
            max(r["max_other_state_logit_change"] for r in rows) <= logit_tol,
            max(r["max_other_state_logit_change"] for r in rows),
            logit_tol,
            "max over the eps grid, over states s != s_move and all actions, of |logit change|",
        ),
        "logit_increment_is_k_eps": _check(
            max(r["logit_error_at_moved_state"] for r in rows) <= logit_tol,
            max(r["logit_error_at_moved_state"] for r in rows),
            logit_tol,
            "max over the eps grid of |logit change at s_move - (k eps (row.u) e_a + eps W u)|; "
            "paper: |change - k eps| (Prop. 1), |change - k eps w.u| (Prop. 2)",
        ),
        "first_order_fixed_distribution": _check(
            conv_fix[0] and k1 > 0,
            conv_fix[1],
            cfg.ratio_tol,
            "|dJ_fix / (-(k k1 + c0) eps) - 1| shrinks along the grid (or sits at its rounding "
            "floor) and ends below tolerance, over the grid points whose rounding floor is below "
            "tolerance (value: error at the last of them); dJ_fix holds d_pi and Q^pi fixed",
        ),
        "first_order_full_objective": _check(
            conv_full[0] and k1 > 0,
            conv_full[1],
            cfg.ratio_tol,
            "same with J_PG = -mu0^T V^pi' re-evaluated exactly (distribution not held fixed)",
        ),
        "jepa_within_corrected_bound": _check(
            jepa_slack <= 1e-12 * jepa_scale,
            jepa_slack,
            0.0,
            "max over the grid of dJ_JEPA - (C_corr eps + C'_corr eps^2); must be <= 0 "
            "(rounding allowance 1e-12 J_JEPA)",
        ),
        "total_loss_falls": _check(
            all(r["dj_total"] < 0 for r in small),
            max(r["dj_total"] for r in small),
            0.0,
            f"max over grid points with k eps <= {cfg.small_k_eps:g} of d(J_PG + J_JEPA); "
            "must be < 0 "
            f"(k = {cfg.k_factor:g} x 2C/k1 with the {k_rule} C)",
        ),
    }


def _d_pi_readings(mdp: FiniteMDP, s_move: int, d_s: float) -> tuple[dict, dict]:
    """Three readings of d_pi(s_move), and the limit of dJ_full / (closed form with each reading):
    1 only for the unnormalised occupancy."""
    readings = {
        "occupancy_unnormalised": d_s,
        "start_distribution": float(mdp.start[s_move]),
        "occupancy_normalised": (1.0 - mdp.gamma) * d_s,
    }
    return readings, {name: (d_s / val if val > 0 else math.inf) for name, val in readings.items()}


def run_construction(
    problem: Problem,
    s_move: int,
    a_delta: int,
    u: np.ndarray,
    row: np.ndarray,
    config: TheoryConfig = TheoryConfig(),
    *,
    k_rule: str = "paper",
    k: float | None = None,
) -> dict:
    """Move E(s_move) to E(s_move) + eps*u, add dW = k e_{a_delta} row^T, and measure everything.

    The paper's constructions are the special cases row = u (Prop. 1) and row = u + v = w
    (Prop. 2), both with W u = 0. A general (u, row) is allowed so that variants of the argument
    can be tested; then the first-order slope of J_PG is -(k k1 + c0) eps with
        k1 = d(s) p_{a_delta} A(s, a_delta) (row . u),   c0 = d(s) sum_a p_a A(s, a) (W u)_a,
    and c0 = 0 whenever W u = 0.

    k_rule: 'paper' takes C = 2 m L E_max from eq. (5); 'corrected' takes the constant that also
    counts transitions *into* s_move (see `findings`). k = k_factor * 2 (C + max(0, -c0)) / k1,
    unless `k` is given.
    """
    cfg = config
    logits0, pi0 = softmax_policy(problem.codes, problem.weight, problem.bias)
    ev = evaluate_policy(problem.mdp, pi0)
    slope = _first_order(problem.weight, ev, pi0, s_move, a_delta, u, row)
    jepa = _jepa_constants(problem, s_move)
    k = _choose_k(cfg, k_rule, jepa, slope, k)
    W_new, logit_tol, invisible = _tweak_head(problem, logits0, a_delta, row, k, cfg)
    rows = [
        _grid_row(problem, ev, logits0, pi0, W_new, s_move, a_delta, u, k, slope, jepa, k_eps)
        for k_eps in cfg.k_eps_grid
    ]
    grid = [r["k_eps"] for r in rows]
    err_fix = [abs(r["ratio_fixed"] - 1.0) for r in rows]
    err_full = [abs(r["ratio_full"] - 1.0) for r in rows]
    gap = [abs(r["full_minus_fixed"]) for r in rows]
    floors = _rounding_floors(rows, slope.gain, ev.j_pg)
    checks = _construction_checks(
        problem, rows, err_fix, err_full, floors, invisible, logit_tol, slope.k1, cfg, k_rule
    )
    readings, reading_limits = _d_pi_readings(problem.mdp, s_move, slope.d_s)
    headline = min(rows, key=lambda r: abs(math.log(r["k_eps"] / cfg.headline_k_eps)))
    k1 = slope.k1
    return {
        "s_move": int(s_move),
        "a_delta": int(a_delta),
        "k": k,
        "k_rule": k_rule,
        "k1": k1,
        "c0": slope.c0,
        "row_dot_u": slope.gain,
        "max_abs_W_u": float(np.abs(slope.drift).max()),
        "u_dot_z": float(u @ problem.codes[s_move]),
        "p_a_delta": slope.p_a,
        "advantage": slope.advantage,
        "d_pi": readings,
        "ratio_limit_by_reading_of_d_pi": reading_limits,
        "jepa": jepa | {
            "k_threshold_paper": 2.0 * jepa["C_paper"] / k1 if k1 > 0 else math.inf,
            "k_threshold_corrected": 2.0 * jepa["C_corrected"] / k1 if k1 > 0 else math.inf,
        },
        "logit_tolerance": logit_tol,
        "ratio_rounding_floor": floors,
        "orders": {
            "fixed_ratio_error": _order(err_fix, grid),
            "full_ratio_error": _order(err_full, grid),
            "full_minus_fixed": _order(gap, grid),
        },
        "headline": {
            "k_eps": headline["k_eps"],
            "eps": headline["eps"],
            "dj_total": headline["dj_total"],
            "dj_pg_full": headline["dj_pg_full"],
            "dj_jepa": headline["dj_jepa"],
        },
        "paper_jepa_bound_holds": all(r["dj_jepa"] <= r["jepa_bound_paper"] for r in rows),
        "grid": rows,
        "checks": checks,
    }


# --------------------------------------------------------------------------------------------
# Propositions
# --------------------------------------------------------------------------------------------


def _common_assumptions(
    problem: Problem, cfg: TheoryConfig
) -> tuple[dict, PolicyEvaluation, np.ndarray]:
    _, probs = softmax_policy(problem.codes, problem.weight, problem.bias)
    ev = evaluate_policy(problem.mdp, probs)
    L = float(problem.world_model.lipschitz)
    lip = _assumption(math.isfinite(L) and L >= 0, f"declared Lipschitz bound L = {L:g}")
    return {"lipschitz_world_model": lip}, ev, probs


def _status(assumptions: dict) -> tuple[str, list[str]]:
    failed = [name for name, a in assumptions.items() if not a["holds"]]
    return ("assumption_failed" if failed else "pending"), failed


def _reachable(ev, state: int, name: str, k_name: str, cfg: TheoryConfig) -> dict:
    """The assumption the paper leaves out: the moved state is visited (d_pi > 0)."""
    occ = float(ev.occupancy[state])
    return _assumption(
        occ > cfg.reach_tol,
        f"d_pi({name}) = {occ:.3e}; {k_name} > 0 also needs this, which the paper does not state",
        stated_in_paper=False,
    )


def _head(proposition: int, assumptions: dict) -> dict:
    """The first keys of a proposition's result: its number, status and assumptions."""
    status, failed = _status(assumptions)
    return {"proposition": proposition, "status": status, "failed_assumptions": failed,
            "assumptions": assumptions}


def _finish(result: dict, construction: dict | None) -> dict:
    if construction is not None:
        result["construction"] = construction
        result["checks"] = construction.pop("checks")
        result["status"] = "pass" if all(c["passed"] for c in result["checks"].values()) else "fail"
    else:
        result["checks"] = {}
    return result


def _best_pair(
    ev: PolicyEvaluation,
    probs: np.ndarray,
    positive: np.ndarray,
    s_fixed: int | None,
    a_fixed: int | None,
) -> tuple[int, int]:
    """The (state, action) with the largest k1 = d(s) p_a A(s, a) among positive-advantage pairs,
    respecting a state or action fixed by the caller. Without any candidate, falls back to the
    most visited allowed state and its largest-advantage action (an assumption check then
    fails)."""
    score = np.where(positive, ev.occupancy[:, None] * probs * ev.advantage, -np.inf)
    allowed = np.ones_like(positive)
    if s_fixed is not None:
        allowed[np.arange(allowed.shape[0]) != s_fixed, :] = False
    if a_fixed is not None:
        allowed[:, np.arange(allowed.shape[1]) != a_fixed] = False
    score = np.where(allowed, score, -np.inf)
    if np.isfinite(score).any():
        s, a = np.unravel_index(int(np.argmax(score)), score.shape)
        return int(s), int(a)
    s = s_fixed if s_fixed is not None else int(np.argmax(ev.occupancy))
    a = a_fixed if a_fixed is not None else int(np.argmax(ev.advantage[s]))
    return int(s), int(a)


def check_prop1(
    problem: Problem,
    config: TheoryConfig = TheoryConfig(),
    *,
    s_delta: int | None = None,
    a_delta: int | None = None,
) -> dict:
    """Proposition 1 (fully collapsed encoder). Checks its assumptions, and if they hold builds
    u in ker W ∩ z_d^⊥, dW = k e_{a_delta} u^T, and runs the checks of `run_construction`.
    (s_delta, a_delta) default to the pair with the largest k1 = d(s) p_a A(s, a)."""
    cfg = config
    W, codes = problem.weight, problem.codes
    d = codes.shape[1]
    assumptions, ev, probs = _common_assumptions(problem, cfg)
    z_d = codes[0]
    collapsed = bool(np.all(codes == z_d))
    assumptions["fully_collapsed"] = _assumption(collapsed, "every state has the same code z_d")
    rank = int(np.linalg.matrix_rank(W))
    U = null_space(np.vstack([W, z_d[None, :]]))
    assumptions["latent_slack"] = _assumption(
        d - rank >= 2,
        f"d - rank W = {d} - {rank} = {d - rank} (paper needs >= 2); "
        f"dim(ker W ∩ z_d^⊥) = {U.shape[1]}",
    )
    tol = cfg.adv_tol * max(1.0, float(np.abs(ev.q).max()))
    positive = ev.advantage > tol
    assumptions["collapsed_policy_improvability"] = _assumption(
        bool(positive.any()),
        f"max_(s,a) A(s, a) = {float(ev.advantage.max()):.3e} (needs > {tol:.1e}; "
        "checked for this pi_c, "
        "the paper asks it of every state-independent policy)",
    )
    if s_delta is None or a_delta is None:
        s_delta, a_delta = _best_pair(ev, probs, positive, s_delta, a_delta)
    adv = float(ev.advantage[s_delta, a_delta])
    assumptions["chosen_action_positive_advantage"] = _assumption(
        adv > tol, f"A(s_delta={s_delta}, a_delta={a_delta}) = {adv:.3e}", stated_in_paper=False
    )
    assumptions["s_delta_reachable"] = _reachable(ev, s_delta, "s_delta", "k1", cfg)
    result = _head(1, assumptions) | {
        "s_delta": s_delta,
        "a_delta": a_delta,
        "dim_U": int(U.shape[1]),
    }
    if result["failed_assumptions"]:
        return _finish(result, None)
    u = project_unit(U, problem.probe)
    return _finish(result, run_construction(problem, s_delta, a_delta, u, u, cfg, k_rule="paper"))


def project_unit(basis: np.ndarray, probe: np.ndarray) -> np.ndarray:
    """Unit vector along the projection of `probe` on span(basis) (orthonormal columns). The
    projection, unlike any one basis vector, does not depend on how LAPACK picked the basis."""
    v = basis @ (basis.T @ probe)
    norm = np.linalg.norm(v)
    return (
        v / norm if norm > 1e-12 * max(1.0, np.linalg.norm(probe)) else unit_with_sign(basis[:, 0])
    )


def prop2_direction(
    W: np.ndarray, z_d: np.ndarray, P: np.ndarray, probe: np.ndarray, *, farthest: bool = False
) -> tuple[np.ndarray, np.ndarray, int, float]:
    """u in U = ker W ∩ z_d^⊥ outside S = span(P), and w = projection of u on N = S^⊥.
    u is the projection of the generic `probe` on U, so it generally has a component inside S
    and the compensator v = -u + w is not trivial; if that u falls in S, u is taken as far from S
    as U allows; `farthest` asks for that direction outright (largest w.u, hence smallest k).
    Returns (u, w, dim U, |P_N u|); |P_N u| = 0 means U is trivial or inside S."""
    d = W.shape[1]
    U = null_space(np.vstack([W, z_d[None, :]]))
    N = null_space(P.T) if P.size else np.eye(d)
    if U.shape[1] == 0 or N.shape[1] == 0:
        return np.zeros(d), np.zeros(d), int(U.shape[1]), 0.0
    u = project_unit(U, probe)
    if farthest or np.linalg.norm(N.T @ u) <= 1e-8:
        _, _, vt = np.linalg.svd(N.T @ U)
        u = unit_with_sign(U @ vt[0])
    w = N @ (N.T @ u)
    return u, w, int(U.shape[1]), float(np.linalg.norm(N.T @ u))


def check_prop2(
    problem: Problem,
    config: TheoryConfig = TheoryConfig(),
    *,
    pair: tuple[int, int] = (0, 1),
    a_delta: int | None = None,
) -> dict:
    """Proposition 2 (two collapsed states s_a = pair[0], s_b = pair[1]). Checks the assumptions;
    if they hold picks u in ker W ∩ z_d^⊥ outside S = span(P) (P = codes of every state but s_a),
    w = P_{S^⊥} u (so w.u = |P_{S^⊥} u|^2 > 0), v = -u + w, dW = k e_{a_delta} (u + v)^T."""
    cfg = config
    W, codes = problem.weight, problem.codes
    d, n_actions = codes.shape[1], W.shape[0]
    s_a, s_b = pair
    assumptions, ev, probs = _common_assumptions(problem, cfg)
    z_d = codes[s_a]
    assumptions["collapsed_pair"] = _assumption(
        s_a != s_b and bool(np.array_equal(codes[s_a], codes[s_b])), f"E(s_{s_a}) == E(s_{s_b})"
    )
    P = np.delete(codes, s_a, axis=0).T  # d x (S - 1)
    dim_s = int(np.linalg.matrix_rank(P))
    bound = d - n_actions - 2
    u, w, dim_u, dist = prop2_direction(W, z_d, P, problem.probe)
    assumptions["latent_slack"] = _assumption(
        dim_s <= bound,
        f"dim span(P) = {dim_s}, paper needs <= d - |A| - 2 = {bound}; "
        f"(what the construction really needs, U ⊄ S, {'holds' if dist > 1e-8 else 'fails'}: "
        f"|P_S^⊥ u| = {dist:.3e})",
    )
    tol = cfg.adv_tol * max(1.0, float(np.abs(ev.q).max()))
    if a_delta is None:
        _, a_delta = _best_pair(ev, probs, ev.advantage > tol, s_a, None)
    adv = float(ev.advantage[s_a, a_delta])
    assumptions["non_greedy_action"] = _assumption(
        adv > tol, f"A(s_a={s_a}, a_delta={a_delta}) = {adv:.3e} (needs > {tol:.1e})"
    )
    assumptions["s_a_reachable"] = _reachable(ev, s_a, "s_a", "k1'", cfg)
    result = _head(2, assumptions) | {
        "s_a": int(s_a),
        "s_b": int(s_b),
        "a_delta": int(a_delta),
        "dim_span_P": dim_s,
        "dim_U": dim_u,
        "norm_u_off_span_P": dist,
    }
    if result["failed_assumptions"]:
        return _finish(result, None)
    v = -u + w
    construction = run_construction(problem, s_a, a_delta, u, u + v, cfg, k_rule="paper")
    construction["w_dot_u"] = float(w @ u)
    construction["one_plus_v_dot_u"] = float(1.0 + v @ u)
    construction["max_abs_w_dot_P"] = float(np.abs(w @ P).max())
    return _finish(result, construction)
