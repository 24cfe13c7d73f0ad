"""Numerical audit of Propositions 1 and 2 of Yu & Chen, "RL as internal regularization
preventing JEPA representation collapse" (the paper is not part of this repository; the README's
theory section says what it states and where our audit differs).

The paper argues that a (fully or partially) collapsed encoder cannot be a global minimiser of
J = J_PG + J_JEPA, by exhibiting an explicit descent direction: move one state's code by eps*u
and add a rank-one tweak dW = k e_{a_delta} r^T to a linear softmax policy head. This module
builds that construction on a small random finite MDP, where everything can be computed
exactly, and checks each step of the argument numerically:

    from jepa_bench.studies.theory import run_theory_checks, format_theory_report
    result = run_theory_checks(seed=0)        # plain dict, JSON-serialisable
    print(format_theory_report(result))       # markdown

(`jepa-bench theory` on the command line calls exactly these two functions.)

Conventions used throughout (the paper leaves several of them implicit):

* MDP: finite states S and actions A, transition P[s, a, s'], reward R[s, a], discount gamma,
  start distribution mu0.
* Policy: pi(.|s) = softmax(W E(s) + b), with a tabular encoder E(s) = codes[s] in R^d.
* J_PG(pi) = -mu0^T V^pi, the negative expected discounted return from the start distribution
  (what the rollout expectation in the paper's eq. (1) estimates). V^pi is found by solving the
  linear Bellman system (I - gamma P_pi) V = r_pi exactly.
* d_pi(s) = sum_t gamma^t Pr(s_t = s | s_0 ~ mu0, pi): the unnormalised discounted occupancy.
  It is the only choice of d_pi for which the paper's closed form k1 = d_pi(s) p_a A(s, a) is the
  true first-order slope of J_PG (policy-gradient theorem); other readings are reported too.
* "Distribution held fixed" means the surrogate J_fix(pi') = -sum_s d_pi(s) sum_a pi'(a|s)
  Q^pi(s, a), with d_pi and Q^pi frozen at the unperturbed policy. That is what the paper's
  derivation differentiates. "Full" means J_PG re-evaluated exactly at the perturbed policy.
* J_JEPA = sum over a fixed batch of transitions (s_t, a_t, s_{t+1}) of
  ||W_psi(E(s_t), a_t) - E(s_{t+1})||^2 (lambda = 1, as in the propositions). The batch is one
  rollout of the unperturbed policy and is held fixed under the perturbation, as the paper's
  "number of time steps whose state equals s_delta" presupposes.

Everything is float64 numpy / scipy; all randomness comes from numpy Generators seeded from
`seed`, so a seed fixes the whole result.

The package, in the order data flows (no module imports one after it):

    mdp.py           settings (TheoryConfig), the finite MDP and exact policy evaluation, the
                     policy head, the world model, the fixed rollout and J_JEPA, the problems
    construction.py  the descent direction of the proofs and its checks; Propositions 1 and 2
    findings.py      the paper's claims taken at face value: what holds, what needs a caveat
    report.py        run_theory_checks (the whole audit as one JSON-ready dict), format_theory_report

It imports numpy and scipy only: no torch, nothing of the training side.
"""

from jepa_bench.studies.theory.construction import check_prop1, check_prop2, run_construction
from jepa_bench.studies.theory.findings import VERDICTS, paper_findings, unreachable_improvable_mdp
from jepa_bench.studies.theory.mdp import (FiniteMDP, PolicyEvaluation, Problem, TheoryConfig,
                                   evaluate_policy, make_problem, optimal_j_pg, random_mdp,
                                   softmax_policy, with_action_irrelevant_states)
from jepa_bench.studies.theory.report import CONVENTIONS, format_theory_report, run_theory_checks

__all__ = [
    "CONVENTIONS",
    "VERDICTS",
    "FiniteMDP",
    "PolicyEvaluation",
    "Problem",
    "TheoryConfig",
    "check_prop1",
    "check_prop2",
    "evaluate_policy",
    "format_theory_report",
    "make_problem",
    "optimal_j_pg",
    "paper_findings",
    "random_mdp",
    "run_construction",
    "run_theory_checks",
    "softmax_policy",
    "unreachable_improvable_mdp",
    "with_action_irrelevant_states",
]
