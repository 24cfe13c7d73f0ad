"""Can an encoder read CartPole's state from our frames? Two probes.

The fine-tuned probe (`probe`): frame stacks come from a uniformly random policy, each labelled
with the true state (x, x_dot, theta, theta_dot) of its newest frame. A configuration's encoder (freshly initialised,
as a run starts) with a linear head on top is trained by regression on the standardised state;
the R² of each component on held-out frames says what the frames let this encoder see within a
few hundred gradient steps. It separates "the frames do not carry the information" from
"reinforcement learning does not extract it".

The frozen probe (`frozen_probe`, docs/trained-encoders.md): a trained encoder's snapshot,
frozen, and a linear and an MLP head fitted on its embeddings of frames from a fixed mixture of
policies: what a trained encoder keeps, component by component.

    jepa-bench probe --config j0g1r0        # the ViT
    jepa-bench probe --config cnn_pixel_ppo # the CNN control
    jepa-bench probe-frozen results/sensitivity/centre/runs/j1g0r0/seed0 --json out.json
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from jepa_bench.rl.agent import build_encoder
from jepa_bench.config import TrainConfig, resolve
from jepa_bench.rl.inputs import POLICIES, random_policy_frames
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



# --- the frozen probe of a trained encoder (docs/trained-encoders.md) --------------------------

FROZEN_SAMPLES = 16_000
"""Frame stacks of the frozen probe, in equal parts from each policy of inputs.POLICIES."""
MIN_PER_POLICY = 10
"""The fewest frame stacks the frozen probe takes from one policy: two of them held out."""
FROZEN_SEED = 2026
"""Seed of the frozen probe's envs and policies: none of the training or calibration seeds."""
HELD_OUT = 0.2
"""The last fifth of each policy's frames is held out; R² is measured there."""
RIDGE = 1e-3
MLP_HIDDEN, MLP_STEPS, MLP_BATCH, MLP_LR = 128, 2000, 256, 1e-3


@functools.lru_cache(maxsize=2)
def mixture_frames(height: int, width: int, renderer: str = "fast",
                   samples: int = FROZEN_SAMPLES, seed: int = FROZEN_SEED):
    """The frozen probe's frames: (train_obs, train_state, test_obs, test_state), equal parts
    from each policy of POLICIES (8 envs, seeds seed, seed + 1, ...), the last HELD_OUT of each
    part held out. The same for every run of a picture size (cached in the process).
    ValueError when `samples` leaves a policy fewer than MIN_PER_POLICY frame stacks."""
    per = samples // len(POLICIES)
    if per < MIN_PER_POLICY:
        raise ValueError(f"samples={samples} is too few for the frozen probe: at least "
                         f"{MIN_PER_POLICY * len(POLICIES)} ({MIN_PER_POLICY} frame stacks from "
                         f"each of its {len(POLICIES)} policies, a fifth of them held out)")
    parts = [random_policy_frames(8, per, seed + i, renderer=renderer, height=height,
                                  width=width, policy=policy)
             for i, policy in enumerate(POLICIES)]
    cut = per - max(1, int(per * HELD_OUT))
    return (torch.cat([o[:cut] for o, _ in parts]), torch.cat([s[:cut] for _, s in parts]),
            torch.cat([o[cut:] for o, _ in parts]), torch.cat([s[cut:] for _, s in parts]))


@torch.no_grad()
def _embed(encoder: nn.Module, obs: torch.Tensor) -> torch.Tensor:
    return torch.cat([encoder(chunk) for chunk in obs.split(1024)]).float()


def _standardise(x: torch.Tensor, x_test: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both sets scaled by the training set's per-feature mean and std (floored at 1e-8)."""
    mean, std = x.mean(0), x.std(0).clamp_min(1e-8)
    return (x - mean) / std, (x_test - mean) / std


def _ridge_r2(x, y, x_test, y_test) -> torch.Tensor:
    """Linear head by ridge regression (RIDGE) on standardised embeddings, closed form, float64."""
    x, x_test = _standardise(x.double(), x_test.double())
    xb = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1)
    reg = RIDGE * len(x) * torch.eye(xb.shape[1], dtype=x.dtype)
    reg[-1, -1] = 0.0  # the bias is not shrunk
    w = torch.linalg.solve(xb.T @ xb + reg, xb.T @ y.double())
    pred = torch.cat([x_test, torch.ones(len(x_test), 1, dtype=x.dtype)], 1) @ w
    return r_squared(pred, y_test.double())


def _mlp_r2(x, y, x_test, y_test, seed: int = 0) -> torch.Tensor:
    """A one-hidden-layer MLP head (MLP_HIDDEN, ReLU) fitted by Adam on standardised embeddings."""
    x, x_test = _standardise(x, x_test)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    head = nn.Sequential(nn.Linear(x.shape[1], MLP_HIDDEN), nn.ReLU(),
                         nn.Linear(MLP_HIDDEN, y.shape[1]))
    opt = torch.optim.Adam(head.parameters(), lr=MLP_LR)
    for _ in range(MLP_STEPS):
        idx = torch.randint(0, len(x), (MLP_BATCH,), generator=gen)
        loss = (head(x[idx]) - y[idx]).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return r_squared(head(x_test), y_test)


def load_snapshot(path) -> tuple[TrainConfig, nn.Module, dict]:
    """An encoder snapshot (`encoder/step{n}.pt`) as (its run's config, the encoder frozen in
    eval mode, the snapshot's record); ValueError naming the file if it is not one."""
    try:
        snap = torch.load(path, map_location="cpu", weights_only=False)
        cfg = TrainConfig(**snap["config"])
        encoder = build_encoder(cfg)
        encoder.load_state_dict(snap["encoder"])
    except Exception as exc:  # noqa: BLE001 - any unreadable file: one line naming it
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise ValueError(f"{path} is not an encoder snapshot ({reason}); snapshots are "
                         "encoder/step{n}.pt in a run folder") from None
    encoder.eval().requires_grad_(False)
    return cfg, encoder, snap


def frozen_probe(snapshot, *, samples: int = FROZEN_SAMPLES, seed: int = FROZEN_SEED) -> dict:
    """R² per state component of a linear and an MLP head fitted on the frozen embeddings of
    one snapshot (docs/trained-encoders.md); also the embedding variance on the held-out frames."""
    cfg, encoder, snap = load_snapshot(snapshot)
    if cfg.obs_type != "pixels":
        raise ValueError(f"{snapshot}: obs_type={cfg.obs_type!r}; the probe reads pixels")
    train_obs, train_state, test_obs, test_state = mixture_frames(
        cfg.height, cfg.width, cfg.renderer, samples, seed)
    mean, std = train_state.mean(0), train_state.std(0)
    y, y_test = (train_state - mean) / std, (test_state - mean) / std
    x, x_test = _embed(encoder, train_obs), _embed(encoder, test_obs)
    heads = {"linear": _ridge_r2(x, y, x_test, y_test), "mlp": _mlp_r2(x, y, x_test, y_test)}
    return {"snapshot": str(snapshot), "env_step": int(snap["env_step"]),
            "seed": int(snap["seed"]), "samples": samples, "data_seed": seed,
            "embed_var": embed_variance(x_test),
            "r2": {head: dict(zip(STATE_NAMES, (round(float(v), 4) for v in r2)))
                   for head, r2 in heads.items()}}
