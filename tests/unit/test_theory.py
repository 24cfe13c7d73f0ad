"""Tests of the numerical audit of Yu & Chen's Propositions 1 and 2 (jepa_bench.studies.theory).

Run: .venv/bin/python -m pytest tests/unit/test_theory.py -q
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.linalg import null_space

from jepa_bench.studies import theory
from jepa_bench.studies.theory import (TheoryConfig, check_prop1, check_prop2, make_problem,
                               run_construction)
from jepa_bench.studies.theory.findings import full_support_start

CFG = TheoryConfig()


@pytest.fixture(scope="module")
def default_result() -> dict:
    return theory.run_theory_checks(seed=0)


# --- the constructions pass on default seeds ----------------------------------------------------


@pytest.mark.parametrize("prop", ["prop1", "prop2"])
def test_every_check_passes_on_default_seed(default_result, prop):
    result = default_result[prop]
    assert result["status"] == "pass", result["failed_assumptions"]
    assert set(result["checks"]) == {
        "tweak_alone_invisible",
        "other_states_logits_unchanged",
        "logit_increment_is_k_eps",
        "first_order_fixed_distribution",
        "first_order_full_objective",
        "jepa_within_corrected_bound",
        "total_loss_falls",
    }
    for name, check in result["checks"].items():
        assert check["passed"], (name, check)
    assert default_result["all_checks_pass"] and default_result["ok"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_both_propositions_pass_on_other_seeds(seed):
    assert check_prop1(make_problem(seed, CFG, collapse="full"), CFG)["status"] == "pass"
    assert check_prop2(make_problem(seed, CFG, collapse="pair"), CFG)["status"] == "pass"


def test_construction_matches_the_paper(default_result):
    c1 = default_result["prop1"]["construction"]
    assert c1["max_abs_W_u"] < 1e-12 and abs(c1["u_dot_z"]) < 1e-12  # u in ker W ∩ z_d^⊥
    assert c1["row_dot_u"] == pytest.approx(1.0, abs=1e-12)  # dW = k e u^T, |u| = 1
    assert c1["k"] > c1["jepa"]["k_threshold_paper"] > 0  # k > 2C/k1
    c2 = default_result["prop2"]["construction"]
    assert c2["max_abs_W_u"] < 1e-12
    assert c2["max_abs_w_dot_P"] < 1e-12  # w ⊥ span(P)
    assert c2["one_plus_v_dot_u"] == pytest.approx(c2["w_dot_u"], abs=1e-12)
    assert 0 < c2["w_dot_u"] < 1 - 1e-3  # the compensator v is not trivial here
    assert c2["row_dot_u"] == pytest.approx(c2["w_dot_u"], abs=1e-12)
    for c in (c1, c2):  # the logit of a_Δ moves by exactly k eps (times w.u in Prop. 2)
        for row in c["grid"]:
            assert row["logit_increment"] == pytest.approx(row["k_eps"] * c["row_dot_u"], rel=1e-6)


def test_first_order_ratio_converges(default_result):
    for prop in ("prop1", "prop2"):
        grid = default_result[prop]["construction"]["grid"]
        for key in ("ratio_fixed", "ratio_full"):
            errors = [abs(row[key] - 1.0) for row in grid]
            assert errors[-1] < 1e-4, (prop, key, errors)
            # first order: the error falls about tenfold per decade of k*eps (clean part of grid)
            assert all(e1 < 0.2 * e0 for e0, e1 in zip(errors[:3], errors[1:4], strict=True)), (
                prop,
                key,
                errors,
            )
        # full objective minus fixed-distribution surrogate is second order
        orders = default_result[prop]["construction"]["orders"]["full_minus_fixed"]
        assert all(1.8 < o < 2.2 for o in orders[:3]), orders


def test_closed_form_k1_uses_discounted_occupancy(default_result):
    c = default_result["prop1"]["construction"]
    limits = c["ratio_limit_by_reading_of_d_pi"]
    assert limits["occupancy_unnormalised"] == 1.0
    assert limits["occupancy_normalised"] == pytest.approx(1.0 / (1.0 - CFG.gamma))
    assert limits["start_distribution"] > 1.5  # the literal reading is far off


# --- violated assumptions are reported, never passed --------------------------------------------


def _assert_failed(result: dict, name: str) -> None:
    assert result["status"] == "assumption_failed"
    assert name in result["failed_assumptions"], result["failed_assumptions"]
    assert result["checks"] == {}
    assert "construction" not in result


def test_prop1_latent_slack_violation():
    cfg = dataclasses.replace(CFG, latent_dim=4)  # d - rank W = 4 - 3 = 1 < 2
    result = check_prop1(make_problem(0, cfg, collapse="full"), cfg)
    _assert_failed(result, "latent_slack")


def test_prop1_no_improvable_state():
    problem = make_problem(0, CFG, collapse="full")
    flat = theory.with_action_irrelevant_states(problem.mdp, range(CFG.n_states))
    result = check_prop1(dataclasses.replace(problem, mdp=flat), CFG)
    _assert_failed(result, "collapsed_policy_improvability")


def test_prop1_chosen_action_without_positive_advantage():
    problem = make_problem(0, CFG, collapse="full")
    ev = theory.evaluate_policy(
        problem.mdp, theory.softmax_policy(problem.codes, problem.weight, problem.bias)[1]
    )
    s, a = np.unravel_index(int(np.argmin(ev.advantage)), ev.advantage.shape)
    result = check_prop1(problem, CFG, s_delta=int(s), a_delta=int(a))
    _assert_failed(result, "chosen_action_positive_advantage")


def test_prop1_unreachable_improvable_states():
    mdp = theory.unreachable_improvable_mdp(CFG)
    problem = make_problem(0, CFG, collapse="full", mdp=mdp)
    result = check_prop1(problem, CFG)
    assert result["assumptions"]["collapsed_policy_improvability"][
        "holds"
    ]  # the paper's Assumption 1 holds
    _assert_failed(result, "s_delta_reachable")


class _CubicWorldModel:
    """z -> z**3 per coordinate: smooth but with no global Lipschitz constant."""

    lipschitz = math.inf

    def predict(self, z, a):
        return z**3


def test_prop1_and_prop2_non_lipschitz_world_model():
    p1 = make_problem(0, CFG, collapse="full", world_model=_CubicWorldModel())
    _assert_failed(check_prop1(p1, CFG), "lipschitz_world_model")
    p2 = make_problem(0, CFG, collapse="pair", world_model=_CubicWorldModel())
    _assert_failed(check_prop2(p2, CFG), "lipschitz_world_model")


def test_prop1_encoder_not_collapsed():
    _assert_failed(check_prop1(make_problem(0, CFG, collapse="pair"), CFG), "fully_collapsed")


def test_prop2_latent_slack_violation():
    cfg = dataclasses.replace(CFG, latent_dim=6)  # dim span(P) = 5 > 6 - 3 - 2 = 1
    result = check_prop2(make_problem(0, cfg, collapse="pair"), cfg)
    _assert_failed(result, "latent_slack")
    assert result["dim_span_P"] == 5


def test_prop2_no_positive_advantage_at_s_a():
    problem = make_problem(0, CFG, collapse="pair")
    flat = theory.with_action_irrelevant_states(problem.mdp, [0])
    result = check_prop2(dataclasses.replace(problem, mdp=flat), CFG, pair=(0, 1))
    _assert_failed(result, "non_greedy_action")


def test_prop2_pair_not_collapsed():
    _assert_failed(check_prop2(make_problem(0, CFG, collapse="none"), CFG), "collapsed_pair")


# --- findings about the paper's argument --------------------------------------------------------


def _findings(result: dict) -> dict:
    return {f["id"]: f for f in result["findings"]}


def test_findings_numbers_groups_and_verdicts(default_result):
    """Findings 1 and 3 are gaps in the proofs, 2 a missing assumption, the 4s clarifications;
    none is reported as a failure of a proposition's statement."""
    placed = {k: (f["number"], f["group"], f["verdict"])
              for k, f in _findings(default_result).items()}
    assert placed == {
        "jepa_bound_counts_only_outgoing_steps": ("1", "proof", "proof gap"),
        "reachability_is_needed": ("2", "assumption", "missing assumption"),
        "w_dot_u_sign": ("3", "proof", "sign slip"),
        "d_pi_is_discounted_occupancy": ("4a", "assumption", "clarification"),
        "dimension_conditions_not_necessary": ("4b", "assumption", "clarification"),
        "prop2_does_not_use_collapse": ("4c", "assumption", "clarification"),
        "distribution_shift_is_second_order": ("5a", "confirmed", "holds"),
        "u_perp_z_d": ("5b", "confirmed", "holds"),
    }
    for f in _findings(default_result).values():
        assert f["statement"]
    ev = _findings(default_result)
    assert ev["dimension_conditions_not_necessary"]["evidence"]["prop1_d_equals_A"][
        "relaxed_all_checks_pass"]
    assert ev["dimension_conditions_not_necessary"]["evidence"]["prop2_span_P_is_d_minus_1"][
        "paper_construction_all_checks_pass"]


def test_bound_5_fails_only_under_the_stated_conditions(default_result):
    """At the audit's L = 0.5 with the construction's generic u, bound (5) holds; with L = 0.05
    and the u that maximises the JEPA slope it fails (slope 39.65 against C = 4.29) and the total
    loss rises at k just above 2C/k1; random admissible u fail it in some draws (mostly at
    small L), never the corrected bound."""
    jepa = _findings(default_result)["jepa_bound_counts_only_outgoing_steps"]["evidence"]
    assert default_result["config"]["lipschitz"] == jepa["default_L"] == 0.5
    assert default_result["prop1"]["construction"]["paper_jepa_bound_holds"]
    assert jepa["paper_bound_holds_at_default_L"]
    assert jepa["lipschitz"] == pytest.approx(0.05) and not jepa["paper_bound_holds"]
    assert round(jepa["worst_admissible_jepa_slope"], 2) == 39.65
    assert round(jepa["C_paper"], 2) == 4.29
    assert jepa["total_loss_rises_at_paper_k"] and jepa["n_entering"] > 0
    draws = jepa["random_draws"]
    assert draws["draws"] == 400 and draws["L_range"] == [0.01, 1.0]
    assert 0 < draws["paper_bound_fails"] < draws["draws"]
    assert draws["corrected_bound_fails"] == 0
    below = draws["draws_with_L_below_0.1"]
    below_fails = draws["paper_bound_fails_with_L_below_0.1"]
    above_fails = draws["paper_bound_fails"] - below_fails
    assert below_fails / below > above_fails / (draws["draws"] - below)


def test_minus_u_repairs_the_proof_with_any_k(default_result):
    """-u moves the policy exactly as u does (ΔJ_PG unchanged) and flips the first-order JEPA
    term, so with the sign that makes it negative even a k ten times below the paper's
    threshold lowers the total loss."""
    jepa = _findings(default_result)["jepa_bound_counts_only_outgoing_steps"]["evidence"]
    assert jepa["minus_u_dj_pg_max_difference"] < 1e-12
    assert all(m < 0 < p for m, p in zip(jepa["minus_u_dj_jepa"], jepa["dj_jepa"]))
    assert jepa["minus_u_dj_jepa"][-1] == pytest.approx(-jepa["dj_jepa"][-1], rel=1e-3)
    assert jepa["minus_u_k_tenth_of_paper_threshold"] < jepa["k"]
    assert jepa["minus_u_total_loss_falls_at_that_k"]
    assert jepa["prop2_n_entering"] > 0  # Prop. 2's steps entering s_a: the same omission


def test_minus_u_leaves_the_policy_gradient_change_exactly_on_any_problem():
    problem = make_problem(3, CFG, collapse="full")
    base = check_prop1(problem, CFG)
    U = null_space(np.vstack([problem.weight, problem.codes[0][None, :]]))
    u = U[:, 0]
    s, a = base["s_delta"], base["a_delta"]
    for k in (1e-2, 1.0, 100.0):
        plus = run_construction(problem, s, a, u, u, CFG, k=k)
        minus = run_construction(problem, s, a, -u, -u, CFG, k=k)
        for p, m in zip(plus["grid"], minus["grid"]):
            assert m["dj_pg_full"] == pytest.approx(p["dj_pg_full"], abs=1e-14)
        assert np.sign(plus["grid"][-1]["dj_jepa"]) == -np.sign(minus["grid"][-1]["dj_jepa"])


def test_reachability_counterexample_needs_a_start_that_misses_the_improvable_states(
        default_result):
    """From a start distribution that never reaches the improvable states the collapsed encoder
    is a global minimiser; with a full-support start it is not, and Prop. 1 goes through."""
    ev = _findings(default_result)["reachability_is_needed"]["evidence"]
    assert ev["assumption_1_holds"] and ev["collapsed_is_global_min"]
    assert ev["failed"] == ["s_delta_reachable"]
    full = ev["full_support_start"]
    assert not full["collapsed_is_global_min"] and full["prop1_status"] == "pass"
    assert full["j_pg_collapsed"] > full["j_pg_optimal"] + 1.0
    mdp = full_support_start(theory.unreachable_improvable_mdp(CFG))
    assert np.all(mdp.start > 0) and np.isclose(mdp.start.sum(), 1.0)


def test_the_sign_of_w_dot_u_is_a_sign_slip_repaired_by_minus_w(default_result):
    ev = _findings(default_result)["w_dot_u_sign"]["evidence"]
    assert all(dj > 0 for dj in ev["dj_pg_full_flipped"]) and ev["k1_flipped"] < 0
    assert ev["w_dot_u"] == pytest.approx(-ev["w_dot_u_flipped"]) and ev["w_dot_u"] > 0
    assert ev["construction_with_w_passes"]


def test_the_documentation_states_the_audit_as_it_ran(default_result):
    """The documentation's theory-audit section (docs/yu-chen.md) quotes this run's numbers,
    each series under its own label."""
    page = Path(__file__).resolve().parents[2] / "docs" / "yu-chen.md"
    text = " ".join(page.read_text().split())
    lower = text.lower()
    grid = default_result["prop1"]["construction"]["grid"]
    fixed = ", ".join(f"{r['ratio_fixed']:.{n}f}" for r, n in zip(grid, (5, 5, 5, 6, 7)))
    full = ", ".join(f"{r['ratio_full']:.{n}f}" for r, n in zip(grid, (5, 5, 5, 6, 7)))
    assert f"fixed-distribution surrogate: {fixed}" in text
    assert f"exact J_PG: {full}" in text
    draws = _findings(default_result)["jepa_bound_counts_only_outgoing_steps"]["evidence"][
        "random_draws"]
    assert f"{draws['paper_bound_fails']} of {draws['draws']} draws" in text
    for words in ("l = 0.05", "l = 0.5", "−u", "full-support start", "sign slip",
                  "gaps in the proofs", "missing assumptions"):
        assert words in lower


# --- determinism and output ---------------------------------------------------------------------


def test_deterministic_for_a_seed(default_result):
    again = theory.run_theory_checks(seed=0)
    assert json.dumps(again, sort_keys=True) == json.dumps(default_result, sort_keys=True)
    other = theory.run_theory_checks(seed=1, findings=False)
    assert other["prop1"]["construction"]["k1"] != default_result["prop1"]["construction"]["k1"]


def test_report_is_markdown(default_result):
    report = theory.format_theory_report(default_result)
    assert report.startswith("# ")
    for heading in ("## Proposition 1", "## Proposition 2", "## What the audit finds",
                    "### Gaps in the proofs", "### Missing assumptions and clarifications"):
        assert heading in report
    assert "assumption_failed" not in report.split("## What the audit finds")[0]
    assert "FAILS" not in report and ": fails" not in report
    assert "ratio_fix (surrogate)" in report and "ratio_full (exact J_PG)" in report
    failed = theory.run_theory_checks(
        seed=0, config=dataclasses.replace(CFG, latent_dim=4), findings=False
    )
    assert "Status: assumption_failed" in theory.format_theory_report(failed)
    assert failed["ok"] is False  # the CLI exits non-zero
