"""Findings: the paper's claims taken at face value, each probed with the construction of
construction.py on a problem built to test it (the JEPA bound (5), the sign of w^T u, reachability,
the dimension condition, the role of the collapse, the readings of d_pi).

Owns each finding's claim text, probe, evidence and verdict. The verdict and every number come
from the computation, never from the text. Must not format reports.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.linalg import null_space

from jepa_bench.studies.theory.construction import (check_prop1, check_prop2, project_unit,
                                            prop2_direction, run_construction, unit_with_sign)
from jepa_bench.studies.theory.mdp import (FiniteMDP, Problem, TheoryConfig, evaluate_policy,
                                   identity_world_model, jepa_loss, jepa_residuals, make_problem,
                                   optimal_j_pg, softmax_policy)

# --------------------------------------------------------------------------------------------
# Findings: the paper's claims taken at face value
# --------------------------------------------------------------------------------------------


VERDICTS = ("holds", "proof gap", "sign slip", "missing assumption", "clarification", "fails",
            "not evaluated")
"""holds: the claim is right as stated; proof gap: a step of the proof is wrong, the statement
still holds; sign slip: a sign in the proof is wrong and the obvious flip repairs it; missing
assumption: the statement needs an assumption the paper does not make; clarification: right
under a reading or with a caveat the paper does not give; fails: a counterexample to the
statement itself; not evaluated: the probe could not be built for this seed."""

GROUPS = {
    "proof": "Gaps in the proofs",
    "assumption": "Missing assumptions and clarifications",
    "confirmed": "Steps checked and holding as stated",
}
"""Where each finding stands in the report, in this order."""

# finding -> (its number in the README and the report, its group)
_PLACE = {
    "jepa_bound_counts_only_outgoing_steps": ("1", "proof"),
    "reachability_is_needed": ("2", "assumption"),
    "w_dot_u_sign": ("3", "proof"),
    "d_pi_is_discounted_occupancy": ("4a", "assumption"),
    "dimension_conditions_not_necessary": ("4b", "assumption"),
    "prop2_does_not_use_collapse": ("4c", "assumption"),
    "distribution_shift_is_second_order": ("5a", "confirmed"),
    "u_perp_z_d": ("5b", "confirmed"),
}

#: random admissible directions u and world-model bounds L drawn to measure how often the
#: paper's bound (5) fails (finding 1); L is log-uniform on [L_low, L_high]
BOUND_DRAWS, BOUND_L_RANGE, BOUND_L_SPLIT = 400, (0.01, 1.0), 0.1
#: the worst-case probe of finding 1 takes this L
SMALL_L = 0.05

# What the paper claims and what the probe does, per finding. The verdict and the figures come
# from the computation, never from this text.
_PROSE = {
    "d_pi_is_discounted_occupancy": (
        """ΔJ_PG = -d_pi(s_Δ) δV(s_Δ), 'only s_Δ contributes to first order', with
        J_PG = -E_s[V(s)] and d_pi left undefined.""",
        """Changing pi at s_Δ changes V at every state from which s_Δ can be reached, so the
        formula is the first-order slope of -mu0^T V only when d_pi is the unnormalised
        discounted occupancy sum_t γ^t Pr(s_t = s) from the start distribution (the
        policy-gradient theorem). Reading d_pi as the weights of E_s[.] is off by the factor
        d_γ(s_Δ)/μ0(s_Δ); reading it as the normalised occupancy is off by 1/(1-γ). The sign,
        and so the conclusion, is the same in every reading.""",
    ),
    "distribution_shift_is_second_order": (
        """The first-order argument may hold the state distribution (and Q) fixed.""",
        """J_PG re-evaluated exactly, with the distribution moving with the policy, is compared
        with the fixed-distribution surrogate along the eps grid; their difference should fall
        as eps^2.""",
    ),
    "jepa_bound_counts_only_outgoing_steps": (
        """Eq. (5): ΔJ_JEPA <= C eps + C' eps^2 with C = 2 m L E_max, C' = m L^2, m the number of
        steps whose state is s_Δ; hence any k > 2C/k1 makes J fall for small eps.""",
        """Eq. (5) bounds only the steps that leave s_Δ. The steps that enter s_Δ have their
        target E(s_{t+1}) moved by eps u as well, which adds up to 2 n_in E_max eps whatever L
        is. How often that breaks the bound depends on L and on u: at the audit's L = 0.5 with
        Prop. 1's generic u the bound held (section Proposition 1); the counterexample takes a
        world model with L = 0.05 and O(1) residuals, the admissible u (W u = 0, u ⊥ z_d,
        |u| = 1) that maximises the first-order JEPA slope, and k = 1.01 x 2C/k1; and random
        admissible u with L log-uniform on [0.01, 1] measure how often the bound fails, with
        the paper's constant and with the corrected one, C = 2 sum_t c_t e_t,
        C' = sum_t c_t^2, c_t = L 1[s_t = s_Δ] + 1[s_{t+1} = s_Δ] (self-loops count in both).
        The simpler repair: replacing u by -u (also admissible) leaves the policy change, and
        so ΔJ_PG, unchanged and flips the sign of the first-order JEPA term; with the sign that
        makes that term <= 0, any k > 0 lowers J for small eps. Prop. 2's 'only steps with
        s_t = s_a are affected' carries the same omission (its n_in steps entering s_a) and
        the same repairs.""",
    ),
    "w_dot_u_sign": (
        """Pick w ∈ N = span(P)^⊥ with w.u ≠ 0 and v = -u + w; then k1' = d p A w.u > 0.""",
        """k1' has the sign of w.u, so w.u ≠ 0 alone does not give k1' > 0: the probe keeps u
        and replaces w by -w (still in N, still w.u ≠ 0, still a valid compensator
        v = -u - w) with the same k > 0, which lowers the logit of a_Δ and raises J_PG. A sign
        slip: taking -w whenever w.u < 0 (or k of the sign of w.u) repairs it, since -w is in N
        too; the construction as checked in Proposition 2 uses w = P_N u, for which w.u > 0.""",
    ),
    "u_perp_z_d": (
        """u must satisfy W u = 0 and u^T z_d = 0.""",
        """Consistent, but only Prop. 1 needs u ⊥ z_d: there the tweak row is u itself and
        u^T z_d = 0 is what keeps the collapsed states' logits. In Prop. 2 the tweak row is
        u + v = w ⊥ span(P) ∋ z_d, so u^T z_d plays no role; the probe runs Prop. 2 with
        u ∈ ker W, u^T z_d ≠ 0, and all checks.""",
    ),
    "dimension_conditions_not_necessary": (
        """Prop. 1 needs d - rank W >= 2; Prop. 2 needs dim span(P) <= d - |A| - 2.""",
        """Both are sufficient, not necessary. Prop. 2's construction only needs
        U = ker W ∩ z_d^⊥ ⊄ span(P), which holds generically whenever dim span(P) < d. Even by the
        paper's own count the condition is one too strict: u ⊥ z_d is not needed in Prop. 2
        (see u_perp_z_d), and u ∈ ker W outside span(P) exists once
        dim span(P) <= d - rank W - 1. Dropping W u = 0 altogether (the extra logit drift
        eps W u is O(eps) and independent of k, so a larger k beats it) no kernel is needed:
        probe (a) runs Prop. 1 with d = |A|, probe (b) runs the paper's Prop. 2 construction
        with dim span(P) = d - 1.""",
    ),
    "reachability_is_needed": (
        """Under Assumptions 1-2 a fully collapsed encoder cannot minimise J globally; k1 > 0
        'because the advantage is positive'.""",
        """k1 = d_pi(s_Δ) p A also needs d_pi(s_Δ) > 0, which is not assumed. The probe MDP has
        action-independent dynamics and rewards on the states reached from the start, and two
        unreached states that reward different actions, so Assumption 1 holds for every
        state-independent policy. With J_PG measured from that start distribution (the
        expected return of eq. (1)), J_PG of the collapsed policy equals the optimum over all
        policies and the world model W(z, a) = z (L = 1) has J_JEPA = 0: the collapsed encoder
        is a global minimiser. The counterexample depends on that start distribution: the same
        MDP with a full-support (uniform) start distribution reaches the improvable states,
        the collapsed policy is then below the optimum and Prop. 1's construction goes
        through.""",
    ),
    "prop2_does_not_use_collapse": (
        """Proposition 2: an encoder that merges s_a and s_b is not a global minimiser.""",
        """The proof never uses E(s_a) = E(s_b). With S = span of all codes (the moved state's
        own included) it goes through unchanged for an encoder whose codes are all distinct,
        which the probe runs. So it shows that no encoder with spare latent dimensions is a
        global minimiser while some reachable state has a positive-advantage action (the policy
        head can always be sharpened); it says nothing about collapsed versus uncollapsed
        encoders.""",
    ),
}


def _finding(name: str, verdict: str, evidence: dict, statement: str = "") -> dict:
    """One finding: its number and group, the verdict, what it means for the proposition's
    statement, the paper's claim, the probe and the evidence (numbers from the computation)."""
    assert verdict in VERDICTS, verdict
    claim, probe = (" ".join(text.split()) for text in _PROSE[name])
    number, group = _PLACE[name]
    return {"id": name, "number": number, "group": group, "verdict": verdict,
            "statement": " ".join(statement.split()), "claim": claim, "probe": probe,
            "evidence": evidence}


def _all_pass(construction: dict | None) -> bool:
    return construction is not None and all(c["passed"] for c in construction["checks"].values())


def _worst_jepa_direction(problem: Problem, s_move: int, U: np.ndarray) -> tuple[np.ndarray, float]:
    """Unit u in span(U) maximising the first-order JEPA slope dJ_JEPA/deps = G.u, where G is the
    gradient of J_JEPA with respect to the code of s_move (both ends of every transition count)."""
    wm, codes, batch = problem.world_model, problem.codes, problem.batch
    res = jepa_residuals(wm, codes, batch)
    grad = np.zeros(codes.shape[1])
    steps = zip(batch.states, batch.actions, batch.next_states, strict=True)
    for t, (s, a, s_next) in enumerate(steps):
        if s == s_move:
            grad += 2.0 * wm.jacobian(codes[s], int(a)).T @ res[t]
        if s_next == s_move:
            grad -= 2.0 * res[t]
    proj = U @ (U.T @ grad)
    return proj / np.linalg.norm(proj), float(np.linalg.norm(proj))


def paper_findings(
    seed: int = 0, config: TheoryConfig = TheoryConfig(), *, prop1: dict | None = None,
    prop2: dict | None = None,
) -> list[dict]:
    """Each claim of the paper's argument, tested as stated. Every finding has a verdict in
    VERDICTS, a group in GROUPS and says what it means for the proposition's statement."""
    cfg = config
    if prop1 is None:
        prop1 = check_prop1(make_problem(seed, cfg, collapse="full"), cfg)
    if prop2 is None:
        prop2 = check_prop2(make_problem(seed, cfg, collapse="pair"), cfg)
    return [
        *_distribution_findings(prop1, cfg),
        _jepa_bound_finding(seed, cfg, prop1, prop2),
        _sign_finding(seed, cfg),
        _u_perp_finding(seed, cfg),
        _dimension_finding(seed, cfg),
        _reachability_finding(seed, cfg),
        _no_collapse_finding(seed, cfg),
    ]


def _distribution_findings(prop1: dict, cfg: TheoryConfig) -> list[dict]:
    c1 = prop1.get("construction")
    if c1 is None:
        return [
            _finding("d_pi_is_discounted_occupancy", "not evaluated", {}),
            _finding("distribution_shift_is_second_order", "not evaluated", {}),
        ]
    lim = c1["ratio_limit_by_reading_of_d_pi"]
    last = c1["grid"][-1]
    occupancy_exact = abs(last["ratio_full"] - 1.0) <= cfg.ratio_tol
    orders = c1["orders"]["full_minus_fixed"]
    second_order = all(o is not None and o > 1.8 for o in orders[:3])
    return [
        _finding(
            "d_pi_is_discounted_occupancy",
            "clarification" if occupancy_exact else "fails",
            {
                "ratio_full_fd_to_k1_at_smallest_eps": last["ratio_full"],
                "limit_if_d_pi_is_start_distribution": lim["start_distribution"],
                "limit_if_d_pi_is_normalised_occupancy": lim["occupancy_normalised"],
                "gamma": cfg.gamma,
            },
            "Holds in every reading of d_pi: the sign of the slope, and so the conclusion, is the "
            "same; the closed form k1 = d_pi(s) p A is the exact slope only for the unnormalised "
            "discounted occupancy, which the paper should state.",
        ),
        _finding(
            "distribution_shift_is_second_order",
            "holds" if second_order else "fails",
            {
                "full_minus_fixed_orders": orders,
                "full_minus_fixed_at_smallest_eps": last["full_minus_fixed"],
            },
            "Holds as stated.",
        ),
    ]


def bound_failure_rate(seed: int, cfg: TheoryConfig, s_delta: int, a_delta: int,
                       draws: int = BOUND_DRAWS) -> dict:
    """How often Prop. 1's construction breaks the paper's bound (5), and the corrected one, for
    random admissible u (uniform on the unit sphere of ker W ∩ z_d^⊥) and L log-uniform on
    BOUND_L_RANGE; the problem is the audit's (seed) with its world model scaled to each L."""
    rng = np.random.default_rng([seed, 5])
    low, high = np.log10(BOUND_L_RANGE[0]), np.log10(BOUND_L_RANGE[1])
    rows = []
    for _ in range(draws):
        lip = float(10.0 ** rng.uniform(low, high))
        c = dataclasses.replace(cfg, lipschitz=lip)
        problem = make_problem(seed, c, collapse="full")
        U = null_space(np.vstack([problem.weight, problem.codes[0][None, :]]))
        u = U @ rng.normal(size=U.shape[1])
        u /= np.linalg.norm(u)
        r = run_construction(problem, s_delta, a_delta, u, u, c)
        rows.append((lip, not r["paper_jepa_bound_holds"],
                     not r["checks"]["jepa_within_corrected_bound"]["passed"]))
    small = [r for r in rows if r[0] < BOUND_L_SPLIT]
    return {
        "draws": draws,
        "L_range": list(BOUND_L_RANGE),
        "L_sampling": "log-uniform",
        "paper_bound_fails": sum(r[1] for r in rows),
        "corrected_bound_fails": sum(r[2] for r in rows),
        f"draws_with_L_below_{BOUND_L_SPLIT:g}": len(small),
        f"paper_bound_fails_with_L_below_{BOUND_L_SPLIT:g}": sum(r[1] for r in small),
    }


def _jepa_bound_finding(seed: int, cfg: TheoryConfig, prop1: dict, prop2: dict) -> dict:
    small_l = dataclasses.replace(cfg, lipschitz=SMALL_L)
    problem = make_problem(seed, small_l, collapse="full")
    base = check_prop1(problem, small_l)
    if base["status"] == "assumption_failed":
        return _finding("jepa_bound_counts_only_outgoing_steps", "not evaluated", {})
    generic = base["checks"]["total_loss_falls"]
    s, a = base["s_delta"], base["a_delta"]
    U = null_space(np.vstack([problem.weight, problem.codes[0][None, :]]))
    u_worst, slope = _worst_jepa_direction(problem, s, U)
    probe = run_construction(
        problem, s, a, u_worst, u_worst, dataclasses.replace(small_l, k_factor=1.01)
    )
    j = probe["jepa"]
    small = [r for r in probe["grid"] if r["k_eps"] <= small_l.small_k_eps]
    total_rises = all(r["dj_total"] > 0 for r in small)
    bound_holds = probe["paper_jepa_bound_holds"] and not total_rises and generic["passed"]
    # the -u repair: the same policy change, the JEPA term's first order with the other sign
    minus = run_construction(problem, s, a, -u_worst, -u_worst, small_l, k=probe["k"])
    pg_diff = max(abs(p["dj_pg_full"] - m["dj_pg_full"])
                  for p, m in zip(probe["grid"], minus["grid"]))
    tenth = 0.1 * j["k_threshold_paper"]  # a k ten times below the paper's threshold
    below = run_construction(problem, s, a, -u_worst, -u_worst, small_l, k=tenth)
    small_below = [r for r in below["grid"] if r["k_eps"] <= small_l.small_k_eps]
    minus_falls = all(r["dj_total"] < 0 for r in small_below)
    draws = bound_failure_rate(seed, cfg, prop1["s_delta"], prop1["a_delta"])
    c1, c2 = prop1.get("construction"), prop2.get("construction")
    repaired = (pg_diff <= 1e-12 and minus_falls and draws["corrected_bound_fails"] == 0
                and all(m["dj_jepa"] < 0 for m in minus["grid"]))
    verdict = "holds" if bound_holds else "proof gap" if repaired else "fails"
    return _finding(
        "jepa_bound_counts_only_outgoing_steps",
        verdict,
        {
            "lipschitz": j["lipschitz"],
            "m_leaving": j["m_leaving"],
            "n_entering": j["n_entering"],
            "C_paper": j["C_paper"],
            "C_corrected": j["C_corrected"],
            "worst_admissible_jepa_slope": slope,
            "paper_bound_holds": probe["paper_jepa_bound_holds"],
            "k": probe["k"],
            "k_eps_grid": [r["k_eps"] for r in probe["grid"]],
            "dj_jepa": [r["dj_jepa"] for r in probe["grid"]],
            "paper_bound": [r["jepa_bound_paper"] for r in probe["grid"]],
            "dj_total_at_paper_k": [r["dj_total"] for r in probe["grid"]],
            "total_loss_rises_at_paper_k": total_rises,
            "generic_u_total_loss_falls_at_2x_paper_k": generic["passed"],
            "generic_u_max_dj_total_small_eps": generic["value"],
            "default_L": cfg.lipschitz,
            "paper_bound_holds_at_default_L": c1["paper_jepa_bound_holds"] if c1 else None,
            "random_draws": draws,
            "minus_u_dj_pg_max_difference": pg_diff,
            "minus_u_dj_jepa": [r["dj_jepa"] for r in minus["grid"]],
            "minus_u_k_tenth_of_paper_threshold": tenth,
            "minus_u_dj_total_at_that_k": [r["dj_total"] for r in below["grid"]],
            "minus_u_total_loss_falls_at_that_k": minus_falls,
            "prop2_n_entering": c2["jepa"]["n_entering"] if c2 else None,
        },
        "Prop. 1's statement holds; the proof's constant is wrong, not the claim. Bound (5) "
        f"{'held' if c1 and c1['paper_jepa_bound_holds'] else 'did not hold'} at "
        f"L = {cfg.lipschitz:g} with the construction's generic u, and fails for small L with a "
        f"u that loads the steps entering s_Δ (here L = {SMALL_L:g} and the worst admissible u; "
        f"{draws['paper_bound_fails']} of {draws['draws']} random draws). With -u in "
        "place of u where needed any k > 0 lowers J; with the corrected C the proof's own rule "
        "k > 2C/k1 works. Prop. 2's proof has the same gap and the same repairs.",
    )


def _prop2_probe_setup(seed: int, cfg: TheoryConfig) -> tuple[Problem, dict] | None:
    problem = make_problem(seed, cfg, collapse="pair")
    base = check_prop2(problem, cfg)
    return (problem, base) if base["status"] == "pass" else None


def _sign_finding(seed: int, cfg: TheoryConfig) -> dict:
    setup = _prop2_probe_setup(seed, cfg)
    if setup is None:
        return _finding("w_dot_u_sign", "not evaluated", {})
    problem, base = setup
    P = np.delete(problem.codes, 0, axis=0).T
    u, w, _, _ = prop2_direction(problem.weight, problem.codes[0], P, problem.probe)
    k = base["construction"]["k"]
    flipped = run_construction(problem, 0, base["a_delta"], u, -w, cfg, k=k)
    rises = all(r["dj_pg_full"] > 0 for r in flipped["grid"])
    repaired = base["status"] == "pass" and float(w @ u) > 0  # the construction with +w
    return _finding(
        "w_dot_u_sign",
        ("sign slip" if repaired else "fails") if rises else "holds",
        {
            "w_dot_u_flipped": float(-(w @ u)),
            "k": k,
            "k1_flipped": flipped["k1"],
            "dj_pg_full_flipped": [r["dj_pg_full"] for r in flipped["grid"]],
            "w_dot_u": float(w @ u),
            "construction_with_w_passes": base["status"] == "pass",
        },
        "Prop. 2's statement holds: -w is in N as well, so choosing the sign of w (w.u > 0) "
        "repairs the step; a sign slip, not a counterexample.",
    )


def _u_perp_finding(seed: int, cfg: TheoryConfig) -> dict:
    setup = _prop2_probe_setup(seed, cfg)
    if setup is None:
        return _finding("u_perp_z_d", "not evaluated", {})
    problem, base = setup
    W, z_d = problem.weight, problem.codes[0]
    P = np.delete(problem.codes, 0, axis=0).T
    K = null_space(W)
    tilted = prop2_direction(W, z_d, P, problem.probe)[0] + z_d / np.linalg.norm(z_d)
    u = unit_with_sign(K @ (K.T @ tilted))  # in ker W, not orthogonal to z_d
    N = null_space(P.T)
    w = N @ (N.T @ u)
    alt = run_construction(problem, 0, base["a_delta"], u, w, cfg)
    return _finding(
        "u_perp_z_d",
        "holds" if _all_pass(alt) else "fails",
        {
            "u_dot_z_d": float(u @ z_d),
            "w_dot_u": float(w @ u),
            "all_checks_pass": _all_pass(alt),
            "max_other_state_logit_change": alt["checks"]["other_states_logits_unchanged"]["value"],
            "dj_total_headline": alt["headline"]["dj_total"],
        },
        "Holds; the condition u ⊥ z_d is needed in Prop. 1 only.",
    )


def _dimension_finding(seed: int, cfg: TheoryConfig) -> dict:
    # (a) Prop. 1 with d = |A|: ker W = {0}, the paper's u does not exist. Move the code along
    # u ⊥ z_d anyway (W u ≠ 0) and take k large enough to beat the drift term c0 as well.
    tight1 = dataclasses.replace(cfg, latent_dim=cfg.n_actions)
    p1 = make_problem(seed, tight1, collapse="full")
    r1 = check_prop1(p1, tight1)
    u1 = project_unit(null_space(p1.codes[0][None, :]), p1.probe)
    _, probs = softmax_policy(p1.codes, p1.weight, p1.bias)
    ev = evaluate_policy(p1.mdp, probs)
    score = ev.occupancy[:, None] * probs * ev.advantage
    s, a = np.unravel_index(int(np.argmax(score)), score.shape)
    relaxed1 = run_construction(p1, int(s), int(a), u1, u1, tight1, k_rule="corrected")
    # (b) Prop. 2 with dim span(P) = d - 1, far beyond d - |A| - 2: the paper's own construction.
    tight2 = dataclasses.replace(cfg, latent_dim=cfg.n_states)
    p2 = make_problem(seed, tight2, collapse="pair")
    r2 = check_prop2(p2, tight2)
    P = np.delete(p2.codes, 0, axis=0).T
    u2, w2, _, dist = prop2_direction(p2.weight, p2.codes[0], P, p2.probe, farthest=True)
    relaxed2 = None
    if dist > 1e-8 and r2["assumptions"]["non_greedy_action"]["holds"]:
        relaxed2 = run_construction(p2, 0, r2["a_delta"], u2, w2, tight2, k_rule="corrected")
    both = _all_pass(relaxed1) and _all_pass(relaxed2)
    return _finding(
        "dimension_conditions_not_necessary",
        "clarification" if both else "not evaluated",
        {
            "prop1_d_equals_A": {
                "paper_status": r1["status"],
                "failed": r1["failed_assumptions"],
                "relaxed_all_checks_pass": _all_pass(relaxed1),
                "c0": relaxed1["c0"],
                "dj_total_headline": relaxed1["headline"]["dj_total"],
            },
            "prop2_span_P_is_d_minus_1": {
                "paper_status": r2["status"],
                "failed": r2["failed_assumptions"],
                "dim_span_P": r2["dim_span_P"],
                "latent_dim": tight2.latent_dim,
                "paper_construction_all_checks_pass": _all_pass(relaxed2),
                "dj_total_headline": relaxed2["headline"]["dj_total"] if relaxed2 else None,
            },
        },
        "Both propositions hold under weaker conditions: the dimension conditions are "
        "sufficient, not necessary, and Prop. 2's is one dimension stricter than its own proof "
        "needs.",
    )


def unreachable_improvable_mdp(config: TheoryConfig = TheoryConfig()) -> FiniteMDP:
    """An MDP satisfying Prop. 1's Assumption 1 at face value where the collapsed encoder is a
    global minimiser: the states the start distribution reaches ignore the action; two states it
    never reaches reward different actions, so every state-independent policy is non-greedy at
    one of them."""
    S, A = config.n_states, config.n_actions
    if S < 4 or A < 2:
        raise ValueError("needs at least 4 states and 2 actions")
    rng = np.random.default_rng(12345)
    reach = S - 2
    transition = np.zeros((S, A, S))
    reward = np.zeros((S, A))
    core = rng.dirichlet(np.ones(reach), size=reach)
    transition[:reach, :, :reach] = core[:, None, :]
    reward[:reach, :] = rng.normal(size=(reach, 1))
    for s, best in ((reach, 0), (reach + 1, 1)):
        transition[s, :, s] = 1.0
        reward[s, best] = 1.0
    start = np.zeros(S)
    start[:reach] = 1.0 / reach
    return FiniteMDP(transition, reward, config.gamma, start)


def _reachability_finding(seed: int, cfg: TheoryConfig) -> dict:
    mdp = unreachable_improvable_mdp(cfg)
    wm = identity_world_model(cfg.latent_dim, cfg.n_actions)
    problem = make_problem(seed, cfg, collapse="full", mdp=mdp, world_model=wm)
    r = check_prop1(problem, cfg)
    _, probs = softmax_policy(problem.codes, problem.weight, problem.bias)
    j_pg = evaluate_policy(mdp, probs).j_pg
    j_star = optimal_j_pg(mdp)
    j_jepa = jepa_loss(wm, problem.codes, problem.batch)
    global_min = abs(j_pg - j_star) <= 1e-10 * max(1.0, abs(j_star)) and j_jepa == 0.0
    assumption_1 = r["assumptions"]["collapsed_policy_improvability"]["holds"]
    # the same MDP with every state in the start distribution
    full = full_support_start(mdp)
    wide = make_problem(seed, cfg, collapse="full", mdp=full, world_model=wm)
    r_full = check_prop1(wide, cfg)
    j_pg_full = evaluate_policy(full, softmax_policy(wide.codes, wide.weight, wide.bias)[1]).j_pg
    j_star_full = optimal_j_pg(full)
    global_min_full = abs(j_pg_full - j_star_full) <= 1e-10 * max(1.0, abs(j_star_full))
    counterexample = global_min and assumption_1
    return _finding(
        "reachability_is_needed",
        ("missing assumption" if not global_min_full else "fails") if counterexample else "holds",
        {
            "assumption_1_holds": assumption_1,
            "status": r["status"],
            "failed": r["failed_assumptions"],
            "j_pg_collapsed": j_pg,
            "j_pg_optimal": j_star,
            "j_jepa": j_jepa,
            "collapsed_is_global_min": global_min,
            "full_support_start": {
                "j_pg_collapsed": j_pg_full,
                "j_pg_optimal": j_star_full,
                "collapsed_is_global_min": global_min_full,
                "prop1_status": r_full["status"],
            },
        },
        "Prop. 1's statement needs an assumption the paper does not make: some improvable state "
        "must be reached (d_pi(s_Δ) > 0). Without it, for J_PG measured from a start "
        "distribution that never reaches the improvable states, a collapsed encoder can be a "
        "global minimiser; with a full-support start distribution it is not, and the "
        "construction goes through.",
    )


def full_support_start(mdp: FiniteMDP) -> FiniteMDP:
    """The same MDP started uniformly from every state."""
    return FiniteMDP(mdp.transition, mdp.reward, mdp.gamma,
                     np.full(mdp.n_states, 1.0 / mdp.n_states))


def _no_collapse_finding(seed: int, cfg: TheoryConfig) -> dict:
    problem = make_problem(seed, cfg, collapse="none")
    codes = problem.codes
    u, w, _, dist = prop2_direction(problem.weight, codes[0], codes.T, problem.probe)
    _, probs = softmax_policy(codes, problem.weight, problem.bias)
    ev = evaluate_policy(problem.mdp, probs)
    a = int(np.argmax(probs[0] * ev.advantage[0]))
    res = None
    if dist > 1e-8 and ev.advantage[0, a] > 0:
        res = run_construction(problem, 0, a, u, w, cfg)
    return _finding(
        "prop2_does_not_use_collapse",
        "clarification" if _all_pass(res) else "not evaluated",
        {
            "all_codes_distinct": len({tuple(c) for c in codes}) == len(codes),
            "all_checks_pass": _all_pass(res),
            "dj_total_headline": res["headline"]["dj_total"] if res else None,
        },
        "Prop. 2's statement holds, but more generally than stated: it does not tell collapsed "
        "from uncollapsed encoders.",
    )
