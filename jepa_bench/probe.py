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

from jepa_bench.agent import build_encoder
from jepa_bench.config import resolve
from jepa_bench.inputs import random_policy_frames
from jepa_bench.jepa import embed_variance

STATE_NAMES = ("x", "x_dot", "theta", "theta_dot")
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


# --- the probe as a pipeline output -------------------------------------------------------------

PROBE_TARGETS = {"theta": 0.90, "theta_dot": 0.73}
"""R² an encoder must reach to count as reading the pole (docs/calibration.md, stage A)."""


def summarise_probes(results: list[dict]) -> dict:
    """One row from the probe results of one encoder over seeds: R² per component (mean over
    seeds) and the range of the embedding variance at initialisation."""
    if not results:
        raise ValueError("summarise_probes needs at least one probe result")
    row = {"seeds": " ".join(str(r["seed"]) for r in results)}
    for name in STATE_NAMES:
        row[f"r2_{name}"] = round(sum(r["r2"][name] for r in results) / len(results), 3)
    init = [r["init_embed_var"] for r in results]
    row.update(init_embed_var_min=min(init), init_embed_var_max=max(init))
    return row


def probe_table(paths_by_config: dict[str, list]):
    """One row per configuration from its probe JSON files (as `jepa-bench probe --json` wrote
    them), with whether R²(θ) and R²(θ̇) reach PROBE_TARGETS; a pandas DataFrame."""
    import pandas as pd

    from jepa_bench.metrics import read_json
    rows = []
    for config, paths in paths_by_config.items():
        results = [read_json(p) for p in paths]
        row = {"config": config, "encoder": results[0]["encoder"],
               "settings": results[0].get("settings"), **summarise_probes(results)}
        for name, floor in PROBE_TARGETS.items():
            row[f"reads_{name}"] = row[f"r2_{name}"] >= floor
        rows.append(row)
    return pd.DataFrame(rows)


def write_probe_report(paths_by_config: dict[str, list], out) -> list:
    """probe_table as markdown at `out` and CSV beside it (same name, .csv); returns both paths."""
    from pathlib import Path

    from jepa_bench.metrics import atomic_write_text, markdown_table, write_table
    out = Path(out)
    table = probe_table(paths_by_config)
    write_table(table, out.with_suffix(".csv"))
    atomic_write_text(out, "# Can each encoder read the state? (supervised probe)\n\n"
                      "A freshly initialised encoder of each configuration plus a linear head, "
                      "regressed on the standardised state from random-policy frames (`jepa-bench "
                      "probe`); R² on held-out frames, mean over the seeds listed; the embedding "
                      "variance is the fresh encoder's, before any step. Reads θ / θ̇: R² at least "
                      f"{PROBE_TARGETS['theta']} / {PROBE_TARGETS['theta_dot']}.\n\n"
                      + markdown_table(table))
    return [out, out.with_suffix(".csv")]
