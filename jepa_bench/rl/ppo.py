"""PPO on top of an embedding s: actor-critic heads, GAE and the clipped PPO loss.

Everything here is a pure function of its tensor arguments or a small nn.Module; the training
loop (train.py) owns the rollout storage, minibatching and optimiser.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ActorCritic", "a2c_loss", "compute_gae", "explained_variance", "layer_init", "ppo_loss"]


def layer_init(layer: nn.Module, std: float = math.sqrt(2), bias_const: float = 0.0) -> nn.Module:
    """Orthogonal weights with gain `std`, constant bias; returns the layer for chaining."""
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias_const)
    return layer


def _mlp_head(dim: int, hidden: int, out: int, out_std: float) -> nn.Sequential:
    return nn.Sequential(
        layer_init(nn.Linear(dim, hidden)),
        nn.Tanh(),
        layer_init(nn.Linear(hidden, hidden)),
        nn.Tanh(),
        layer_init(nn.Linear(hidden, out), std=out_std),
    )


class ActorCritic(nn.Module):
    """Separate tanh MLP heads (two hidden layers) for the policy logits and the state value.

    Small actor output gain (0.01) starts the policy near uniform; the critic output gain is 1.
    Whether gradients reach the encoder is decided by the caller (pass s or s.detach()).
    """

    def __init__(self, dim: int = 64, hidden: int = 64, n_actions: int = 2) -> None:
        super().__init__()
        self.actor = _mlp_head(dim, hidden, n_actions, out_std=0.01)
        self.critic = _mlp_head(dim, hidden, 1, out_std=1.0)

    def get_value(self, s: Tensor) -> Tensor:
        """(B, dim) -> (B,) state values."""
        return self.critic(s).squeeze(-1)

    def get_action_and_value(
        self, s: Tensor, action: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Return (action, logprob, entropy, value), each (B,).

        With action=None an action is sampled from the categorical policy (torch global RNG);
        otherwise the given actions are scored. Rollout and update both go through here.
        """
        logp_all = F.log_softmax(self.actor(s), dim=-1)
        if action is None:
            action = torch.multinomial(logp_all.exp(), 1).squeeze(-1)
        logprob = logp_all.gather(-1, action.long().unsqueeze(-1)).squeeze(-1)
        entropy = -(logp_all.exp() * logp_all).sum(-1)
        return action, logprob, entropy, self.get_value(s)


def compute_gae(
    rewards: Tensor,
    values: Tensor,
    next_values: Tensor,
    terminated: Tensor,
    dones: Tensor,
    gamma: float,
    lam: float,
) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimation over a (T, N) rollout; returns (advantages, returns).

    next_values[t] is V of the true next observation of step t (at a truncation: the value of
    the final observation, not of the reset one). terminated[t] stops the bootstrap;
    dones[t] = terminated[t] or truncated[t] stops the recursion into the next episode:

        delta_t = r_t + gamma * (1 - terminated_t) * next_values_t - values_t
        A_t     = delta_t + gamma * lam * (1 - dones_t) * A_{t+1},   A_T = 0
        returns = A + values
    """
    shape = rewards.shape
    for name, x in (("values", values), ("next_values", next_values),
                    ("terminated", terminated), ("dones", dones)):
        if x.shape != shape:
            raise ValueError(f"{name} shape {tuple(x.shape)} != rewards shape {tuple(shape)}")
    if rewards.dim() != 2:
        raise ValueError(f"rewards shape {tuple(shape)} must be (T, N)")
    not_term = 1.0 - terminated.to(values.dtype)
    not_done = 1.0 - dones.to(values.dtype)
    deltas = rewards.to(values.dtype) + gamma * not_term * next_values - values
    advantages = torch.empty_like(deltas)
    running = torch.zeros_like(deltas[0])
    for t in range(shape[0] - 1, -1, -1):
        running = deltas[t] + gamma * lam * not_done[t] * running
        advantages[t] = running
    return advantages, advantages + values


def ppo_loss(
    new_logprob: Tensor,
    old_logprob: Tensor,
    advantages: Tensor,
    new_values: Tensor,
    returns: Tensor,
    entropy: Tensor,
    clip_coef: float,
    norm_adv: bool = True,
) -> dict[str, Tensor]:
    """Clipped-surrogate PPO losses on one minibatch (all inputs 1-D of equal length).

    Returns scalar tensors: actor_loss (clipped surrogate, to minimise), critic_loss
    (0.5 * MSE to the returns; no value clipping), entropy (mean, for the caller to weight),
    approx_kl (mean of (r - 1) - log r, detached) and clip_frac (share of |r - 1| > clip_coef,
    detached). With norm_adv the advantages are standardised within the minibatch.
    """
    log_ratio = new_logprob - old_logprob
    ratio = log_ratio.exp()
    with torch.no_grad():
        approx_kl = ((ratio - 1.0) - log_ratio).mean()
        clip_frac = ((ratio - 1.0).abs() > clip_coef).float().mean()
    if norm_adv and advantages.numel() > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    surrogate = torch.max(
        -advantages * ratio,
        -advantages * ratio.clamp(1.0 - clip_coef, 1.0 + clip_coef),
    )
    return {
        "actor_loss": surrogate.mean(),
        "critic_loss": 0.5 * (new_values - returns).pow(2).mean(),
        "entropy": entropy.mean(),
        "approx_kl": approx_kl,
        "clip_frac": clip_frac,
    }


def a2c_loss(
    new_logprob: Tensor,
    advantages: Tensor,
    new_values: Tensor,
    returns: Tensor,
    entropy: Tensor,
    norm_adv: bool = False,
) -> dict[str, Tensor]:
    """Advantage actor-critic losses (Yu & Chen's Eq. 1 policy term): actor_loss =
    -mean(A * log pi(a|s)), one gradient step per rollout, so no ratio and nothing to clip.
    Same keys as ppo_loss; approx_kl and clip_frac are zero by construction."""
    advantages = advantages.detach()
    if norm_adv and advantages.numel() > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    zero = torch.zeros((), device=new_logprob.device)
    return {
        "actor_loss": -(advantages * new_logprob).mean(),
        "critic_loss": 0.5 * (new_values - returns).pow(2).mean(),
        "entropy": entropy.mean(),
        "approx_kl": zero,
        "clip_frac": zero,
    }


@torch.no_grad()
def explained_variance(y_pred: Tensor, y_true: Tensor) -> float:
    """1 - Var(y_true - y_pred) / Var(y_true) (population variances); nan if Var(y_true) = 0."""
    y_pred, y_true = y_pred.flatten().double(), y_true.flatten().double()
    var_y = y_true.var(correction=0)
    if var_y == 0:
        return float("nan")
    return float(1.0 - (y_true - y_pred).var(correction=0) / var_y)
