"""Tests of the numerical audit of Yu & Chen's Propositions 1 and 2 (jepa_bench.theory).

Run: .venv/bin/python -m pytest tests/unit/test_theory.py -q
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from jepa_bench import theory
from jepa_bench.theory import TheoryConfig, check_prop1, check_prop2, make_problem

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


def test_findings_verdicts(default_result):
    verdicts = {f["id"]: f["verdict"] for f in default_result["findings"]}
    assert verdicts == {
        "d_pi_is_discounted_occupancy": "qualified",
        "distribution_shift_is_second_order": "holds",
        "jepa_bound_counts_only_outgoing_steps": "fails",
        "w_dot_u_sign": "fails",
        "u_perp_z_d": "holds",
        "dimension_conditions_not_necessary": "holds",
        "reachability_is_needed": "fails",
        "prop2_does_not_use_collapse": "qualified",
    }
    ev = {f["id"]: f["evidence"] for f in default_result["findings"]}
    jepa = ev["jepa_bound_counts_only_outgoing_steps"]
    assert jepa["worst_admissible_jepa_slope"] > 2 * jepa["C_paper"]
    assert jepa["total_loss_rises_at_paper_k"]
    assert all(dj > 0 for dj in ev["w_dot_u_sign"]["dj_pg_full_flipped"])
    assert ev["reachability_is_needed"]["collapsed_is_global_min"]
    assert ev["dimension_conditions_not_necessary"]["prop1_d_equals_A"]["relaxed_all_checks_pass"]
    assert ev["dimension_conditions_not_necessary"]["prop2_span_P_is_d_minus_1"][
        "paper_construction_all_checks_pass"
    ]


# --- determinism and output ---------------------------------------------------------------------


def test_deterministic_for_a_seed(default_result):
    again = theory.run_theory_checks(seed=0)
    assert json.dumps(again, sort_keys=True) == json.dumps(default_result, sort_keys=True)
    other = theory.run_theory_checks(seed=1, findings=False)
    assert other["prop1"]["construction"]["k1"] != default_result["prop1"]["construction"]["k1"]


def test_report_is_markdown(default_result):
    report = theory.format_report(default_result)
    assert report.startswith("# ")
    for heading in ("## Proposition 1", "## Proposition 2", "## The paper's claims at face value"):
        assert heading in report
    assert "assumption_failed" not in report.split("## The paper")[0]
    failed = theory.run_theory_checks(
        seed=0, config=dataclasses.replace(CFG, latent_dim=4), findings=False
    )
    assert "Status: assumption_failed" in theory.format_report(failed)
    assert failed["ok"] is False  # the CLI exits non-zero
