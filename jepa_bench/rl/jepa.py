"""JEPA pieces: action-conditioned predictor, EMA target update, losses and embedding diagnostics.

Notation follows Kenneweg et al. (2025), section 2: s_x is the online (x-) encoder's CLS
embedding of frames (f_{t-2}, f_{t-1}, f_t); s_y is the EMA target (y-) encoder's embedding of
(f_{t-1}, f_t, f_{t+1}); the predictor maps (s_x, a_t) to s_y^p.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "Predictor",
    "ema_update_",
    "jepa_loss",
    "variance_reg",
    "embed_variance",
    "effective_rank",
]


class Predictor(nn.Module):
    """Two-layer MLP s_x, a -> s_y^p. The one-hot action is projected to the hidden width and
    added after the first layer, before the GELU: h = GELU(fc1(s) + action_proj(onehot(a)))."""

    def __init__(self, dim: int = 64, hidden: int = 128, n_actions: int = 2) -> None:
        super().__init__()
        if n_actions < 1:
            raise ValueError(f"n_actions={n_actions} must be >= 1")
        self.n_actions = n_actions
        self.fc1 = nn.Linear(dim, hidden)
        self.action_proj = nn.Linear(n_actions, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, s: Tensor, action: Tensor) -> Tensor:
        """s: (B, dim) float; action: (B,) integer action indices. Returns (B, dim)."""
        a = F.one_hot(action.long(), self.n_actions).to(s.dtype)
        return self.fc2(F.gelu(self.fc1(s) + self.action_proj(a)))


@torch.no_grad()
def ema_update_(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """In place: every target parameter <- m * target + (1 - m) * online; buffers are copied.

    Both modules must have the same architecture (same parameter and buffer names in order).
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum={momentum} must be in [0, 1]")
    t_params, o_params = dict(target.named_parameters()), dict(online.named_parameters())
    t_bufs, o_bufs = dict(target.named_buffers()), dict(online.named_buffers())
    if t_params.keys() != o_params.keys() or t_bufs.keys() != o_bufs.keys():
        raise ValueError("target and online modules have different parameters or buffers")
    for name, p_t in t_params.items():
        p_t.mul_(momentum).add_(o_params[name], alpha=1.0 - momentum)
    for name, b_t in t_bufs.items():
        b_t.copy_(o_bufs[name])


def jepa_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Eq. 1: squared L2 distance per sample, averaged over the batch. The caller passes a
    target that carries no gradient (EMA encoder output)."""
    if pred.shape != target.shape:
        raise ValueError(f"pred shape {tuple(pred.shape)} != target shape {tuple(target.shape)}")
    return (pred - target).pow(2).sum(-1).mean()


def _batch_variance(s: Tensor) -> Tensor:
    """Mean over embedding dimensions of the per-dimension variance across the batch."""
    if s.dim() != 2 or s.shape[0] < 2:
        raise ValueError(f"s shape {tuple(s.shape)} must be (B, dim) with B >= 2")
    return s.var(dim=0, correction=0).mean()


def variance_reg(s: Tensor) -> Tensor:
    """Eq. 2: -min(1, mean_i Var(s)_i), Var taken over the batch for each dimension i.

    Uses the population variance (correction=0, divide by B); the paper does not say which.
    Above the clamp the loss is exactly -1 and passes no gradient back to s.
    """
    return -_batch_variance(s).clamp(max=1.0)


@torch.no_grad()
def embed_variance(s: Tensor) -> float:
    """Mean batch variance of the embeddings (population variance), the paper's collapse
    indicator: values below ~1e-7 mean the encoder has collapsed."""
    return float(_batch_variance(s.detach()))


@torch.no_grad()
def effective_rank(s: Tensor) -> float:
    """Roy & Vetterli (2007) effective rank of the batch-centred embeddings (B, dim).

    exp(H(p)) with p_k = sigma_k / sum(sigma) over the singular values of s - mean(s); lies in
    [1, min(B, dim)] and is computed in float64. An all-constant batch (every centred row zero,
    total collapse) has rank 0 and returns 0.0.
    """
    if s.dim() != 2 or s.shape[0] < 2:
        raise ValueError(f"s shape {tuple(s.shape)} must be (B, dim) with B >= 2")
    x = s.detach().double()
    sigma = torch.linalg.svdvals(x - x.mean(dim=0, keepdim=True))
    total = sigma.sum()
    if total <= 0:
        return 0.0
    p = sigma / total
    entropy = -torch.special.xlogy(p, p).sum()  # xlogy gives 0 * log 0 = 0
    return float(entropy.exp())
