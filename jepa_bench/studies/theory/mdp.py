"""The audit's world: its settings, a small finite MDP solved exactly, a linear softmax policy
head on a tabular encoder, a Lipschitz world model, one fixed rollout and its JEPA loss, and the
problems (collapsed encoders) the propositions start from.

Owns every number the audit computes *about* an MDP (J_PG, Q, advantages, occupancies, JEPA
residuals). Knows nothing of the propositions: construction.py builds on it; nothing here imports
another module of the package.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

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
