"""Numerical audit of Propositions 1 and 2 of Yu & Chen, "RL as internal regularization
preventing JEPA representation collapse" (shared/papers/rl-prevents-jepa-collapse_yu-chen.md).

The paper argues that a (fully or partially) collapsed encoder cannot be a global minimiser of
J = J_PG + J_JEPA, by exhibiting an explicit descent direction: move one state's code by eps*u
and add a rank-one tweak dW = k e_{a_delta} r^T to a linear softmax policy head. This module
builds that construction on a small random finite MDP, where everything can be computed
exactly, and checks each step of the argument numerically:

    from jepa_bench.theory import run_theory_checks, format_report
    result = run_theory_checks(seed=0)        # plain dict, JSON-serialisable
    print(format_report(result))              # markdown

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
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from scipy.linalg import null_space

# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TheoryConfig:
    """Sizes, constants and tolerances of the numerical audit."""

    n_states: int = 6
    """Number of MDP states."""
    n_actions: int = 3
    """Number of actions |A| (rows of the policy head W)."""
    latent_dim: int = 12
    """Encoder output dimension d. The defaults satisfy both dimension conditions:
    d - rank W = 9 >= 2 and dim span(P) = 5 <= d - |A| - 2 = 7."""
    gamma: float = 0.9
    """Discount factor."""
    horizon: int = 48
    """Length of the fixed rollout whose transitions define J_JEPA."""
    wm_hidden: int = 16
    """Hidden width of the tanh world model."""
    lipschitz: float = 0.5
    """Lipschitz bound L the random world model is scaled to (sum over its linear and tanh
    branches of the spectral-norm products, per action; max over actions)."""
    k_factor: float = 2.0
    """The tweak strength is k = k_factor * (2C / k1), i.e. k_factor times the paper's threshold."""
    k_eps_grid: tuple[float, ...] = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5)
    """Values of k*eps (the logit increment scale) at which finite differences are taken."""
    headline_k_eps: float = 1e-3
    """The k*eps whose total-loss change is quoted as 'the chosen eps'."""
    small_k_eps: float = 1e-2
    """The total loss must fall at every grid point with k*eps <= this ('small eps')."""
    logit_rtol: float = 1e-12
    """Logit tolerance is logit_rtol * (1 + k ||r|| max_s ||E(s)||): a few thousand ulps of the
    largest term that enters a logit."""
    ratio_tol: float = 1e-3
    """|finite difference / first-order prediction - 1| must be below this at the smallest k*eps."""
    adv_tol: float = 1e-10
    """An advantage counts as positive if it exceeds adv_tol * max(1, max |Q|)."""
    reach_tol: float = 1e-12
    """A state counts as reachable if its discounted occupancy exceeds this."""


# --------------------------------------------------------------------------------------------
# MDP, policy evaluation, world model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FiniteMDP:
    """A finite discounted MDP."""

    transition: np.ndarray  # (S, A, S), rows sum to one
    reward: np.ndarray  # (S, A)
    gamma: float
    start: np.ndarray  # (S,), the start distribution mu0

    @property
    def n_states(self) -> int:
        return self.reward.shape[0]

    @property
    def n_actions(self) -> int:
        return self.reward.shape[1]


@dataclass(frozen=True)
class PolicyEvaluation:
    """Exact quantities of one policy on one MDP."""

    value: np.ndarray  # V(s)
    q: np.ndarray  # Q(s, a)
    advantage: np.ndarray  # A(s, a) = Q(s, a) - V(s)
    occupancy: np.ndarray  # d(s) = sum_t gamma^t Pr(s_t = s), from mu0
    j_pg: float  # -mu0^T V


def random_mdp(rng: np.random.Generator, n_states: int, n_actions: int, gamma: float) -> FiniteMDP:
    """Dense random MDP (every transition row drawn from a flat Dirichlet) with a uniform start
    distribution, so every state is reachable."""
    transition = rng.dirichlet(np.ones(n_states), size=(n_states, n_actions))
    reward = rng.normal(size=(n_states, n_actions))
    start = np.full(n_states, 1.0 / n_states)
    return FiniteMDP(transition, reward, gamma, start)


def with_action_irrelevant_states(mdp: FiniteMDP, states: Sequence[int]) -> FiniteMDP:
    """Copy of `mdp` in which, at each listed state, every action has the reward and next-state
    distribution of action 0: Q(s, .) is constant there, so no action has positive advantage."""
    transition = mdp.transition.copy()
    reward = mdp.reward.copy()
    for s in states:
        transition[s, :, :] = transition[s, 0, :]
        reward[s, :] = reward[s, 0]
    return FiniteMDP(transition, reward, mdp.gamma, mdp.start.copy())


def softmax_policy(
    codes: np.ndarray, weight: np.ndarray, bias: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Logits and probabilities of the linear softmax head for every state: (S, A) each."""
    logits = codes @ weight.T + bias
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=1, keepdims=True)
    return logits, probs


def evaluate_policy(mdp: FiniteMDP, probs: np.ndarray) -> PolicyEvaluation:
    """Exact policy evaluation by solving the linear Bellman systems (no sampling, no iteration)."""
    p_pi = np.einsum("sa,sat->st", probs, mdp.transition)
    r_pi = np.sum(probs * mdp.reward, axis=1)
    system = np.eye(mdp.n_states) - mdp.gamma * p_pi
    value = np.linalg.solve(system, r_pi)
    q = mdp.reward + mdp.gamma * mdp.transition @ value
    occupancy = np.linalg.solve(system.T, mdp.start)
    return PolicyEvaluation(value, q, q - value[:, None], occupancy, float(-mdp.start @ value))


def optimal_j_pg(mdp: FiniteMDP) -> float:
    """min over all policies of J_PG, by exact policy iteration over deterministic policies."""
    actions = np.zeros(mdp.n_states, dtype=int)
    for _ in range(10 * mdp.n_states * mdp.n_actions + 10):
        probs = np.eye(mdp.n_actions)[actions]
        q = evaluate_policy(mdp, probs).q
        best = q.argmax(axis=1)
        # keep the current action on ties so the loop terminates
        keep = q[np.arange(mdp.n_states), actions] >= q.max(axis=1) - 1e-12
        new = np.where(keep, actions, best)
        if np.array_equal(new, actions):
            break
        actions = new
    return evaluate_policy(mdp, np.eye(mdp.n_actions)[actions]).j_pg


class WorldModelLike(Protocol):
    """What the checks need from a world model W_psi(z, a)."""

    lipschitz: float

    def predict(self, z: np.ndarray, a: int) -> np.ndarray: ...


@dataclass(frozen=True)
class WorldModel:
    """W_psi(z, a) = M_a z + B_a tanh(A_a z + c_a) + h_a, one set of weights per action.

    Because tanh is 1-Lipschitz, ||M_a|| + ||B_a|| ||A_a|| (spectral norms) bounds the Lipschitz
    constant for action a; `lipschitz` is the max of that bound over actions."""

    linear: np.ndarray  # (A, d, d)  M
    inner: np.ndarray  # (A, h, d)   A
    inner_bias: np.ndarray  # (A, h) c
    outer: np.ndarray  # (A, d, h)   B
    offset: np.ndarray  # (A, d)     h

    @property
    def lipschitz(self) -> float:
        return float(max(_spectral_bound(self, a) for a in range(self.linear.shape[0])))

    def predict(self, z: np.ndarray, a: int) -> np.ndarray:
        hidden = np.tanh(self.inner[a] @ z + self.inner_bias[a])
        return self.linear[a] @ z + self.outer[a] @ hidden + self.offset[a]

    def jacobian(self, z: np.ndarray, a: int) -> np.ndarray:
        hidden = np.tanh(self.inner[a] @ z + self.inner_bias[a])
        return self.linear[a] + self.outer[a] @ ((1.0 - hidden**2)[:, None] * self.inner[a])


def _spectral_bound(wm: WorldModel, a: int) -> float:
    return np.linalg.norm(wm.linear[a], 2) + np.linalg.norm(wm.outer[a], 2) * np.linalg.norm(
        wm.inner[a], 2
    )


def random_world_model(
    rng: np.random.Generator, latent_dim: int, n_actions: int, hidden: int, lipschitz: float
) -> WorldModel:
    """Random (untrained) world model rescaled so that its Lipschitz bound equals `lipschitz`.
    Its offsets are O(1), so prediction errors at a collapsed code are O(1) and C > 0."""
    d, h = latent_dim, hidden
    linear = rng.normal(size=(n_actions, d, d)) / np.sqrt(d)
    inner = rng.normal(size=(n_actions, h, d)) / np.sqrt(d)
    inner_bias = 0.1 * rng.normal(size=(n_actions, h))
    outer = rng.normal(size=(n_actions, d, h)) / np.sqrt(h)
    offset = rng.normal(size=(n_actions, d))
    raw = WorldModel(linear, inner, inner_bias, outer, offset)
    for a in range(n_actions):  # scale the two branches of each action together
        scale = lipschitz / _spectral_bound(raw, a)
        linear[a] *= scale
        outer[a] *= scale
    return WorldModel(linear, inner, inner_bias, outer, offset)


def identity_world_model(latent_dim: int, n_actions: int) -> WorldModel:
    """W_psi(z, a) = z: Lipschitz 1 and a perfect predictor of any collapsed encoder."""
    eye = np.broadcast_to(np.eye(latent_dim), (n_actions, latent_dim, latent_dim)).copy()
    return WorldModel(
        eye,
        np.zeros((n_actions, 1, latent_dim)),
        np.zeros((n_actions, 1)),
        np.zeros((n_actions, latent_dim, 1)),
        np.zeros((n_actions, latent_dim)),
    )


@dataclass(frozen=True)
class Transitions:
    """A fixed batch of transitions; J_JEPA is a sum over it."""

    states: np.ndarray
    actions: np.ndarray
    next_states: np.ndarray


def sample_transitions(
    rng: np.random.Generator, mdp: FiniteMDP, probs: np.ndarray, horizon: int
) -> Transitions:
    """One rollout of `horizon` steps from s_0 ~ mu0 under the given state-wise policy."""
    states = np.empty(horizon, dtype=int)
    actions = np.empty(horizon, dtype=int)
    next_states = np.empty(horizon, dtype=int)
    s = int(rng.choice(mdp.n_states, p=mdp.start))
    for t in range(horizon):
        a = int(rng.choice(mdp.n_actions, p=probs[s]))
        s_next = int(rng.choice(mdp.n_states, p=mdp.transition[s, a]))
        states[t], actions[t], next_states[t] = s, a, s_next
        s = s_next
    return Transitions(states, actions, next_states)


def jepa_residuals(wm: WorldModelLike, codes: np.ndarray, batch: Transitions) -> np.ndarray:
    """Prediction residuals W_psi(E(s_t), a_t) - E(s_{t+1}), one row per transition."""
    return np.stack(
        [
            wm.predict(codes[s], int(a)) - codes[s_next]
            for s, a, s_next in zip(batch.states, batch.actions, batch.next_states, strict=True)
        ]
    )


def jepa_loss(wm: WorldModelLike, codes: np.ndarray, batch: Transitions) -> float:
    return float(np.sum(jepa_residuals(wm, codes, batch) ** 2))


def jepa_increment(
    wm: WorldModelLike, codes: np.ndarray, new_codes: np.ndarray, batch: Transitions
) -> float:
    """J_JEPA(new_codes) - J_JEPA(codes), summed per transition as 2 r.delta + |delta|^2 so that a
    tiny change is not lost in the rounding of two large sums."""
    old = jepa_residuals(wm, codes, batch)
    delta = jepa_residuals(wm, new_codes, batch) - old
    return float(np.sum(2.0 * np.sum(old * delta, axis=1) + np.sum(delta**2, axis=1)))


# --------------------------------------------------------------------------------------------
# Problems
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Everything the loss J = J_PG + J_JEPA depends on, at the (partially) collapsed point."""

    mdp: FiniteMDP
    codes: np.ndarray  # (S, d): the tabular encoder E(s)
    weight: np.ndarray  # (A, d): policy head W
    bias: np.ndarray  # (A,): policy head b
    world_model: WorldModelLike
    batch: Transitions
    probe: np.ndarray  # (d,): a generic vector; u is its projection on the admissible subspace


def make_problem(
    seed: int,
    config: TheoryConfig = TheoryConfig(),
    *,
    collapse: str = "full",
    pair: tuple[int, int] = (0, 1),
    mdp: FiniteMDP | None = None,
    world_model: WorldModelLike | None = None,
) -> Problem:
    """A random instance. collapse='full': every state has the code z_d (Proposition 1);
    'pair': the two states in `pair` share z_d and the rest have generic codes (Proposition 2);
    'none': all codes generic and distinct. `mdp` / `world_model` replace the random ones (the
    random ones are still drawn, so the other draws do not depend on the override)."""
    cfg = config
    rng = np.random.default_rng([seed, _COLLAPSE_TAGS[collapse]])
    random_m = random_mdp(rng, cfg.n_states, cfg.n_actions, cfg.gamma)
    mdp = random_m if mdp is None else mdp
    d = cfg.latent_dim
    z_d = rng.normal(size=d)
    generic = rng.normal(size=(cfg.n_states, d))
    if collapse == "full":
        codes = np.tile(z_d, (cfg.n_states, 1))
    elif collapse == "pair":
        codes = generic.copy()
        codes[list(pair)] = z_d
    elif collapse == "none":
        codes = generic.copy()
    else:
        raise ValueError(f"unknown collapse {collapse!r}")
    weight = rng.normal(size=(cfg.n_actions, d)) / np.sqrt(d)
    bias = 0.5 * rng.normal(size=cfg.n_actions)
    random_wm = random_world_model(rng, d, cfg.n_actions, cfg.wm_hidden, cfg.lipschitz)
    wm = random_wm if world_model is None else world_model
    _, probs = softmax_policy(codes, weight, bias)
    batch = sample_transitions(rng, mdp, probs, cfg.horizon)
    probe = rng.normal(size=d)
    return Problem(mdp, codes, weight, bias, wm, batch, probe)


_COLLAPSE_TAGS = {"full": 1, "pair": 2, "none": 3}


# --------------------------------------------------------------------------------------------
# The construction and its checks (shared by both propositions and the findings)
# --------------------------------------------------------------------------------------------


def _unit_with_sign(v: np.ndarray) -> np.ndarray:
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
    mdp, codes, W, b, wm, batch = (
        problem.mdp,
        problem.codes,
        problem.weight,
        problem.bias,
        problem.world_model,
        problem.batch,
    )
    logits0, pi0 = softmax_policy(codes, W, b)
    ev = evaluate_policy(mdp, pi0)
    z = codes[s_move]
    others = np.array([s for s in range(mdp.n_states) if s != s_move], dtype=int)
    d_s = float(ev.occupancy[s_move])
    p = pi0[s_move]
    adv = ev.advantage[s_move]
    gain = float(row @ u)  # 1 for Prop. 1, w^T u for Prop. 2
    drift = W @ u  # logit drift from moving the code; 0 in the paper's constructions
    k1 = d_s * float(p[a_delta]) * float(adv[a_delta]) * gain
    c0 = d_s * float(np.sum(p * adv * drift))

    # JEPA constants: the paper's (only steps leaving s_move) and the corrected ones.
    residuals = jepa_residuals(wm, codes, batch)
    errors = np.linalg.norm(residuals, axis=1)
    e_max = float(errors.max())
    L = float(wm.lipschitz)
    leaving = batch.states == s_move
    entering = batch.next_states == s_move
    m = int(leaving.sum())
    n_in = int(entering.sum())
    c_paper, c2_paper = 2.0 * m * L * e_max, m * L**2
    reach = L * leaving + 1.0 * entering  # |change of residual t| <= eps * reach_t
    c_corr, c2_corr = 2.0 * float(np.sum(reach * errors)), float(np.sum(reach**2))
    c_for_k = {"paper": c_paper, "corrected": c_corr}[k_rule]
    if k is None:
        need = c_for_k + max(0.0, -c0)
        k = cfg.k_factor * 2.0 * need / k1 if (need > 0 and k1 > 0) else 1.0
    k = float(k)

    e_a = np.zeros(mdp.n_actions)
    e_a[a_delta] = 1.0
    dW = k * np.outer(e_a, row)
    W_new = W + dW
    zmax = float(np.linalg.norm(codes, axis=1).max())
    logit_tol = cfg.logit_rtol * (1.0 + k * float(np.linalg.norm(row)) * (zmax + 1.0))

    # The tweak alone (eps = 0) must be invisible to every state.
    invisible = float(np.abs(softmax_policy(codes, W_new, b)[0] - logits0).max())

    rows = []
    for k_eps in cfg.k_eps_grid:
        eps = k_eps / k
        new_codes = codes.copy()
        new_codes[s_move] = z + eps * u
        logits1, pi1 = softmax_policy(new_codes, W_new, b)
        dl = logits1 - logits0
        expected = eps * drift.copy()
        expected[a_delta] += k * eps * gain
        d_pi = pi1 - pi0
        dj_fix = -float(np.sum(ev.occupancy[:, None] * d_pi * ev.q))
        dj_full = evaluate_policy(mdp, pi1).j_pg - ev.j_pg
        pred = -(k * k1 + c0) * eps
        dj_jepa = jepa_increment(wm, codes, new_codes, batch)
        wm_step = max(
            float(np.linalg.norm(wm.predict(z + eps * u, a) - wm.predict(z, a)))
            for a in range(mdp.n_actions)
        )
        rows.append(
            {
                "k_eps": k_eps,
                "eps": eps,
                "max_other_state_logit_change": float(np.abs(dl[others]).max())
                if len(others)
                else 0.0,
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
                "jepa_bound_paper": c_paper * eps + c2_paper * eps**2,
                "jepa_bound_corrected": c_corr * eps + c2_corr * eps**2,
                "wm_step_over_L_eps": wm_step / (L * eps)
                if L > 0 and math.isfinite(L)
                else math.nan,
                "dj_total": dj_full + dj_jepa,
            }
        )

    grid = [r["k_eps"] for r in rows]
    err_fix = [abs(r["ratio_fixed"] - 1.0) for r in rows]
    err_full = [abs(r["ratio_full"] - 1.0) for r in rows]
    gap = [abs(r["full_minus_fixed"]) for r in rows]
    # Rounding floor of a ratio: the measured logit error relative to the logit step, plus the
    # rounding of J_PG itself relative to the predicted change (both times a safety factor 10).
    logit_err = max(
        max(r["logit_error_at_moved_state"], r["max_other_state_logit_change"]) for r in rows
    )
    floors = [
        10.0
        * (
            logit_err / (r["k_eps"] * max(abs(gain), 1e-300))
            + 1e-16 * (1.0 + abs(ev.j_pg)) / abs(r["dj_pg_first_order"])
        )
        if r["dj_pg_first_order"] != 0
        else math.inf
        for r in rows
    ]
    conv_fix = _converges(err_fix, floors, cfg.ratio_tol)
    conv_full = _converges(err_full, floors, cfg.ratio_tol)
    small = [r for r in rows if r["k_eps"] <= cfg.small_k_eps]
    headline = min(rows, key=lambda r: abs(math.log(r["k_eps"] / cfg.headline_k_eps)))
    jepa_slack = max(r["dj_jepa"] - r["jepa_bound_corrected"] for r in rows)

    checks = {
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
            jepa_slack <= 1e-12 * (1.0 + abs(jepa_loss(wm, codes, batch))),
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

    readings = {
        "occupancy_unnormalised": d_s,
        "start_distribution": float(mdp.start[s_move]),
        "occupancy_normalised": (1.0 - mdp.gamma) * d_s,
    }
    # Limit of dJ_full / (closed form with that reading of d_pi): 1 only for the unnormalised
    # occupancy.
    reading_limits = {name: (d_s / val if val > 0 else math.inf) for name, val in readings.items()}

    return {
        "s_move": int(s_move),
        "a_delta": int(a_delta),
        "k": k,
        "k_rule": k_rule,
        "k1": k1,
        "c0": c0,
        "row_dot_u": gain,
        "max_abs_W_u": float(np.abs(drift).max()),
        "u_dot_z": float(u @ z),
        "p_a_delta": float(p[a_delta]),
        "advantage": float(adv[a_delta]),
        "d_pi": readings,
        "ratio_limit_by_reading_of_d_pi": reading_limits,
        "jepa": {
            "m_leaving": m,
            "n_entering": n_in,
            "lipschitz": L,
            "e_max": e_max,
            "C_paper": c_paper,
            "C2_paper": c2_paper,
            "C_corrected": c_corr,
            "C2_corrected": c2_corr,
            "k_threshold_paper": 2.0 * c_paper / k1 if k1 > 0 else math.inf,
            "k_threshold_corrected": 2.0 * c_corr / k1 if k1 > 0 else math.inf,
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
    occ = float(ev.occupancy[s_delta])
    assumptions["s_delta_reachable"] = _assumption(
        occ > cfg.reach_tol,
        f"d_pi(s_delta) = {occ:.3e}; k1 > 0 also needs this, which the paper does not state",
        stated_in_paper=False,
    )
    status, failed = _status(assumptions)
    result = {
        "proposition": 1,
        "status": status,
        "failed_assumptions": failed,
        "assumptions": assumptions,
        "s_delta": s_delta,
        "a_delta": a_delta,
        "dim_U": int(U.shape[1]),
    }
    if failed:
        return _finish(result, None)
    u = _project_unit(U, problem.probe)
    return _finish(result, run_construction(problem, s_delta, a_delta, u, u, cfg, k_rule="paper"))


def _project_unit(basis: np.ndarray, probe: np.ndarray) -> np.ndarray:
    """Unit vector along the projection of `probe` on span(basis) (orthonormal columns). The
    projection, unlike any one basis vector, does not depend on how LAPACK picked the basis."""
    v = basis @ (basis.T @ probe)
    norm = np.linalg.norm(v)
    return (
        v / norm if norm > 1e-12 * max(1.0, np.linalg.norm(probe)) else _unit_with_sign(basis[:, 0])
    )


def _prop2_direction(
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
    u = _project_unit(U, probe)
    if farthest or np.linalg.norm(N.T @ u) <= 1e-8:
        _, _, vt = np.linalg.svd(N.T @ U)
        u = _unit_with_sign(U @ vt[0])
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
    u, w, dim_u, dist = _prop2_direction(W, z_d, P, problem.probe)
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
    occ = float(ev.occupancy[s_a])
    assumptions["s_a_reachable"] = _assumption(
        occ > cfg.reach_tol,
        f"d_pi(s_a) = {occ:.3e}; k1' > 0 also needs this, which the paper does not state",
        stated_in_paper=False,
    )
    status, failed = _status(assumptions)
    result = {
        "proposition": 2,
        "status": status,
        "failed_assumptions": failed,
        "assumptions": assumptions,
        "s_a": int(s_a),
        "s_b": int(s_b),
        "a_delta": int(a_delta),
        "dim_span_P": dim_s,
        "dim_U": dim_u,
        "norm_u_off_span_P": dist,
    }
    if failed:
        return _finish(result, None)
    v = -u + w
    construction = run_construction(problem, s_a, a_delta, u, u + v, cfg, k_rule="paper")
    construction["w_dot_u"] = float(w @ u)
    construction["one_plus_v_dot_u"] = float(1.0 + v @ u)
    construction["max_abs_w_dot_P"] = float(np.abs(w @ P).max())
    return _finish(result, construction)


# --------------------------------------------------------------------------------------------
# Findings: the paper's claims taken at face value
# --------------------------------------------------------------------------------------------


VERDICTS = ("holds", "qualified", "fails", "not_evaluated")
"""holds: the claim is right as stated; qualified: right only under a reading or with a caveat the
paper does not give; fails: a counterexample (or a wrong formula) was found; not_evaluated: the
probe could not be built for this seed."""

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
        is. The probe takes a world model with L = 0.05 and O(1) residuals, the admissible u
        (W u = 0, u ⊥ z_d, |u| = 1) that maximises the first-order JEPA slope, and
        k = 1.01 x 2C/k1; it also reports whether Prop. 1's own generic u, with k = 2 x 2C/k1,
        lowers the total loss for that world model. A valid constant is
        C = 2 sum_t c_t e_t, C' = sum_t c_t^2 with c_t = L 1[s_t = s_Δ] + 1[s_{t+1} = s_Δ]
        (self-loops count in both); with it the proposition survives, k just has to be
        larger.""",
    ),
    "w_dot_u_sign": (
        """Pick w ∈ span(P)^⊥ with w.u ≠ 0 and v = -u + w; then k1' = d p A w.u > 0.""",
        """k1' has the sign of w.u, so w.u ≠ 0 is not enough: the probe keeps u and replaces w
        by -w (still w.u ≠ 0, still a valid compensator v = -u - w) with the same k > 0, which
        lowers the logit of a_Δ. The construction needs w.u > 0 (e.g. w = P_{S^⊥} u, as used in
        check_prop2) or k of the sign of w.u.""",
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
        state-independent policy. Then J_PG of the collapsed policy equals the optimum over all
        policies and the world model W(z, a) = z (L = 1) has J_JEPA = 0: the collapsed encoder
        is a global minimiser. (This uses J_PG = expected return from the start distribution,
        as in eq. (1); it would not hold if E_s[.] gave every state weight.)""",
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


def _finding(name: str, verdict: str, evidence: dict) -> dict:
    assert verdict in VERDICTS, verdict
    claim, probe = (" ".join(text.split()) for text in _PROSE[name])
    return {"id": name, "verdict": verdict, "claim": claim, "probe": probe, "evidence": evidence}


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
    seed: int = 0, config: TheoryConfig = TheoryConfig(), *, prop1: dict | None = None
) -> list[dict]:
    """Each claim of the paper's argument, tested as stated. Every finding has a verdict in
    VERDICTS; 'fails' and 'qualified' are discrepancies with the paper."""
    cfg = config
    if prop1 is None:
        prop1 = check_prop1(make_problem(seed, cfg, collapse="full"), cfg)
    return [
        *_distribution_findings(prop1, cfg),
        _jepa_bound_finding(seed, cfg),
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
            _finding("d_pi_is_discounted_occupancy", "not_evaluated", {}),
            _finding("distribution_shift_is_second_order", "not_evaluated", {}),
        ]
    lim = c1["ratio_limit_by_reading_of_d_pi"]
    last = c1["grid"][-1]
    occupancy_exact = abs(last["ratio_full"] - 1.0) <= cfg.ratio_tol
    orders = c1["orders"]["full_minus_fixed"]
    second_order = all(o is not None and o > 1.8 for o in orders[:3])
    return [
        _finding(
            "d_pi_is_discounted_occupancy",
            "qualified" if occupancy_exact else "fails",
            {
                "ratio_full_fd_to_k1_at_smallest_eps": last["ratio_full"],
                "limit_if_d_pi_is_start_distribution": lim["start_distribution"],
                "limit_if_d_pi_is_normalised_occupancy": lim["occupancy_normalised"],
                "gamma": cfg.gamma,
            },
        ),
        _finding(
            "distribution_shift_is_second_order",
            "holds" if second_order else "fails",
            {
                "full_minus_fixed_orders": orders,
                "full_minus_fixed_at_smallest_eps": last["full_minus_fixed"],
            },
        ),
    ]


def _jepa_bound_finding(seed: int, cfg: TheoryConfig) -> dict:
    small_l = dataclasses.replace(cfg, lipschitz=0.05)
    problem = make_problem(seed, small_l, collapse="full")
    base = check_prop1(problem, small_l)
    if base["status"] == "assumption_failed":
        return _finding("jepa_bound_counts_only_outgoing_steps", "not_evaluated", {})
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
    holds = probe["paper_jepa_bound_holds"] and not total_rises and generic["passed"]
    return _finding(
        "jepa_bound_counts_only_outgoing_steps",
        "holds" if holds else "fails",
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
        },
    )


def _prop2_probe_setup(seed: int, cfg: TheoryConfig) -> tuple[Problem, dict] | None:
    problem = make_problem(seed, cfg, collapse="pair")
    base = check_prop2(problem, cfg)
    return (problem, base) if base["status"] == "pass" else None


def _sign_finding(seed: int, cfg: TheoryConfig) -> dict:
    setup = _prop2_probe_setup(seed, cfg)
    if setup is None:
        return _finding("w_dot_u_sign", "not_evaluated", {})
    problem, base = setup
    P = np.delete(problem.codes, 0, axis=0).T
    u, w, _, _ = _prop2_direction(problem.weight, problem.codes[0], P, problem.probe)
    k = base["construction"]["k"]
    flipped = run_construction(problem, 0, base["a_delta"], u, -w, cfg, k=k)
    rises = all(r["dj_pg_full"] > 0 for r in flipped["grid"])
    return _finding(
        "w_dot_u_sign",
        "fails" if rises else "holds",
        {
            "w_dot_u_flipped": float(-(w @ u)),
            "k": k,
            "k1_flipped": flipped["k1"],
            "dj_pg_full_flipped": [r["dj_pg_full"] for r in flipped["grid"]],
        },
    )


def _u_perp_finding(seed: int, cfg: TheoryConfig) -> dict:
    setup = _prop2_probe_setup(seed, cfg)
    if setup is None:
        return _finding("u_perp_z_d", "not_evaluated", {})
    problem, base = setup
    W, z_d = problem.weight, problem.codes[0]
    P = np.delete(problem.codes, 0, axis=0).T
    K = null_space(W)
    tilted = _prop2_direction(W, z_d, P, problem.probe)[0] + z_d / np.linalg.norm(z_d)
    u = _unit_with_sign(K @ (K.T @ tilted))  # in ker W, not orthogonal to z_d
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
    )


def _dimension_finding(seed: int, cfg: TheoryConfig) -> dict:
    # (a) Prop. 1 with d = |A|: ker W = {0}, the paper's u does not exist. Move the code along
    # u ⊥ z_d anyway (W u ≠ 0) and take k large enough to beat the drift term c0 as well.
    tight1 = dataclasses.replace(cfg, latent_dim=cfg.n_actions)
    p1 = make_problem(seed, tight1, collapse="full")
    r1 = check_prop1(p1, tight1)
    u1 = _project_unit(null_space(p1.codes[0][None, :]), p1.probe)
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
    u2, w2, _, dist = _prop2_direction(p2.weight, p2.codes[0], P, p2.probe, farthest=True)
    relaxed2 = None
    if dist > 1e-8 and r2["assumptions"]["non_greedy_action"]["holds"]:
        relaxed2 = run_construction(p2, 0, r2["a_delta"], u2, w2, tight2, k_rule="corrected")
    both = _all_pass(relaxed1) and _all_pass(relaxed2)
    return _finding(
        "dimension_conditions_not_necessary",
        "holds" if both else "not_evaluated",
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
    return _finding(
        "reachability_is_needed",
        "fails" if (global_min and assumption_1) else "holds",
        {
            "assumption_1_holds": assumption_1,
            "status": r["status"],
            "failed": r["failed_assumptions"],
            "j_pg_collapsed": j_pg,
            "j_pg_optimal": j_star,
            "j_jepa": j_jepa,
            "collapsed_is_global_min": global_min,
        },
    )


def _no_collapse_finding(seed: int, cfg: TheoryConfig) -> dict:
    problem = make_problem(seed, cfg, collapse="none")
    codes = problem.codes
    u, w, _, dist = _prop2_direction(problem.weight, codes[0], codes.T, problem.probe)
    _, probs = softmax_policy(codes, problem.weight, problem.bias)
    ev = evaluate_policy(problem.mdp, probs)
    a = int(np.argmax(probs[0] * ev.advantage[0]))
    res = None
    if dist > 1e-8 and ev.advantage[0, a] > 0:
        res = run_construction(problem, 0, a, u, w, cfg)
    return _finding(
        "prop2_does_not_use_collapse",
        "qualified" if _all_pass(res) else "not_evaluated",
        {
            "all_codes_distinct": len({tuple(c) for c in codes}) == len(codes),
            "all_checks_pass": _all_pass(res),
            "dj_total_headline": res["headline"]["dj_total"] if res else None,
        },
    )


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
        "findings": paper_findings(seed, cfg, prop1=prop1) if findings else [],
        "all_checks_pass": prop1["status"] == "pass" and prop2["status"] == "pass",
    }
    result["ok"] = result["all_checks_pass"]  # what the CLI turns into its exit status
    return _plain(result)


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


def _plain(x: Any) -> Any:
    """numpy scalars / arrays / tuples -> plain Python, so the result dumps to JSON as is."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_plain(v) for v in x.tolist()]
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    return x


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
        f"- the paper's JEPA bound (5) held on this grid: {_g(c['paper_jepa_bound_holds'])}",
        "",
        "| kε | ε | max other-state Δlogit | Δlogit(a_Δ) − kε·row·u | ΔJ_fix | ratio_fix "
        "| ΔJ_full | ratio_full | full − fix | ΔJ_JEPA | Cε+C'ε² (paper) | ΔJ_total |",
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


def format_report(result: dict) -> str:
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
        out += ["## The paper's claims at face value", ""]
        for f in result["findings"]:
            out += [f"### {f['id']}: {f['verdict'].upper()}", ""]
            out += [f"- claim: {f['claim']}", f"- probe: {f['probe']}"]
            out += [_evidence_line(k, v) for k, v in f["evidence"].items()]
            out.append("")
    return "\n".join(out)
