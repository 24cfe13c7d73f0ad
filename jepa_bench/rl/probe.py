"""Can an encoder read CartPole's state from our frames? A supervised probe.

Frame stacks come from a uniformly random policy, each labelled with the true state
(x, x_dot, theta, theta_dot) of its newest frame. A configuration's encoder (freshly initialised,
as a run starts) with a linear head on top is trained by regression on the standardised state;
the R² of each component on held-out frames says what the frames let this encoder see within a
few hundred gradient steps. It separates "the frames do not carry the information" from
"reinforcement learning does not extract it".

    jepa-bench probe --config j0g1r0        # the ViT
    jepa-bench probe --config cnn_pixel_ppo # the CNN control
"""

from __future__ import annotations

import torch
from torch import nn

from jepa_bench.rl.agent import build_encoder
from jepa_bench.config import resolve
from jepa_bench.rl.inputs import random_policy_frames
from jepa_bench.rl.jepa import embed_variance
from jepa_bench.metrics import STATE_NAMES
INIT_VAR_FRAMES = 1024
"""Held-out frames on which the fresh encoder's embedding variance is measured."""


def collect_frames(cfg, samples: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`samples` (frame stack, state) pairs from cfg.num_envs envs under a random policy."""
    return random_policy_frames(cfg.num_envs, samples, seed, renderer=cfg.renderer,
                                height=cfg.height, width=cfg.width)


def r_squared(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per column: 1 - SSE / SST (1 = perfect, 0 = no better than the column's mean)."""
    sse = (pred - target).pow(2).sum(0)
    sst = (target - target.mean(0)).pow(2).sum(0)
    return 1.0 - sse / sst


def probe(config: str, *, samples: int = 16_000, steps: int = 600, batch: int = 256,
          lr: float = 1e-3, test_fraction: float = 0.2, seed: int = 0,
          overrides: dict | None = None, settings: str | None = None) -> dict:
    """Train the configuration's encoder plus a linear head to regress the state; R² on the
    held-out last `test_fraction` of the frames, collected after the training frames. Also the
    batch variance of the fresh encoder's embeddings on held-out frames, before any step."""
    cfg = resolve(config, overrides, settings=settings)
    if cfg.obs_type != "pixels":
        raise ValueError(f"config={config!r} has obs_type={cfg.obs_type!r}; the probe reads "
                         "pixels: give a pixel configuration")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction={test_fraction} must lie in (0, 1)")
    n_test = max(1, int(samples * test_fraction))
    if samples - n_test < batch:
        raise ValueError(f"samples={samples} leaves fewer than batch={batch} training frames")
    torch.manual_seed(seed)
    obs, state = collect_frames(cfg, samples, seed)
    train_obs, test_obs = obs[:-n_test], obs[-n_test:]
    mean, std = state[:-n_test].mean(0), state[:-n_test].std(0)
    train_y, test_y = (state[:-n_test] - mean) / std, (state[-n_test:] - mean) / std

    encoder, head = build_encoder(cfg), nn.Linear(cfg.dim, len(STATE_NAMES))
    with torch.no_grad():
        init_var = embed_variance(encoder(test_obs[:INIT_VAR_FRAMES]))
    params = list(encoder.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(train_obs), (batch,), generator=gen)
        loss = (head(encoder(train_obs[idx])) - train_y[idx]).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        pred = torch.cat([head(encoder(chunk)) for chunk in test_obs.split(1024)])
    r2 = r_squared(pred, test_y)
    return {"config": config, "encoder": cfg.encoder, "overrides": dict(overrides or {}),
            "settings": settings, "train_config": cfg.to_dict(), "samples": samples,
            "steps": steps, "seed": seed, "init_embed_var": init_var,
            "r2": dict(zip(STATE_NAMES, (round(float(v), 3) for v in r2)))}

