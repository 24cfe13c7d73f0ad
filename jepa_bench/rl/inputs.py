"""What a pixel encoder sees: random-policy frames and the input scaling of the frame stacks.

Owns the two input scalings of `TrainConfig.obs_norm`, shared by the ViT and the CNN:
'unit' (x / 255) and 'standard' (per pixel, (x / 255 - mean) / max(std, STD_FLOOR), with mean
and std over random-policy frames of a fixed seed). The table is a property of the picture
(height, width, renderer), not of a run: every run of every configuration gets the same one, and
it travels inside the encoder's state dict as buffers. Nothing here trains or looks at returns.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor, nn

from jepa_bench.rl.envs import PixelCartPoleVectorEnv

STATS_FRAMES = 4096
"""Random-policy frame stacks behind the 'standard' table (their newest frames)."""
STATS_SEED = 12345
"""Seed of the envs and actions behind the table: fixed, unrelated to any run's seed."""
STD_FLOOR = 0.1
"""Smallest std (on the [0, 1] scale) a pixel is divided by: a pixel the random policy never
changes (the background far from the track) reads a full-contrast change as at most 10."""


POLICIES = ("random", "angle", "angle_eps")
"""Fixed policies that collect frames: uniformly random; sign of the pole's angle (push towards
the side it leans to); the same with each action replaced by a random one with probability
ANGLE_EPS. None of them is a trained agent."""
ANGLE_EPS = 0.25


def random_policy_frames(num_envs: int, samples: int, seed: int, *, renderer: str = "fast",
                         height: int = 24, width: int = 96,
                         policy: str = "random") -> tuple[Tensor, Tensor]:
    """`samples` (frame stack, state) pairs from `num_envs` envs under a fixed `policy` (one of
    POLICIES; by default uniformly random), SAME_STEP autoreset, in the order they were
    visited; uint8 (samples, 3, H, W), float32 (samples, 4)."""
    if policy not in POLICIES:
        raise ValueError(f"policy={policy!r} is not one of: {', '.join(POLICIES)}")
    envs = PixelCartPoleVectorEnv(num_envs=num_envs, renderer=renderer, height=height,
                                  width=width, array_type="torch")
    pixels, info = envs.reset(seed=seed)
    gen = torch.Generator().manual_seed(seed)
    frames, states = [pixels], [info["state"]]
    while len(frames) * num_envs < samples:
        actions = torch.randint(0, 2, (num_envs,), generator=gen)
        if policy != "random":
            towards = (info["state"][:, 2] > 0).long()
            keep = (torch.rand(num_envs, generator=gen) >= ANGLE_EPS if policy == "angle_eps"
                    else torch.ones(num_envs, dtype=torch.bool))
            actions = torch.where(keep, towards, actions)
        pixels, _, _, _, info = envs.step(actions)
        frames.append(pixels)
        states.append(info["state"])
    return torch.cat(frames)[:samples], torch.cat(states)[:samples].float()


@functools.lru_cache(maxsize=4)
def frame_statistics(height: int, width: int, renderer: str = "fast") -> tuple[Tensor, Tensor]:
    """Per-pixel (mean, std) of the newest frame over STATS_FRAMES random-policy stacks, on the
    [0, 1] scale, each (height, width) float32; std already floored at STD_FLOOR."""
    stacks, _ = random_policy_frames(8, STATS_FRAMES, STATS_SEED, renderer=renderer,
                                     height=height, width=width)
    newest = stacks[:, -1].double() / 255.0
    mean, std = newest.mean(0), newest.std(0, correction=0)
    return mean.float(), std.clamp_min(STD_FLOOR).float()


class InputScaling(nn.Module):
    """uint8 (B, frames, H, W) -> float: x / 255, then per-pixel standardisation when a table is
    given. Float input is taken to be on the [0, 1] scale already."""

    def __init__(self, stats: tuple[Tensor, Tensor] | None = None):
        super().__init__()
        self.standard = stats is not None
        if self.standard:
            self.register_buffer("mean", stats[0].clone())
            self.register_buffer("std", stats[1].clone())

    def forward(self, obs: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
        if obs.dtype != torch.uint8:
            x = obs.to(dtype)
        elif not self.standard:
            return obs.to(dtype) / 255.0  # the v1 CNN runs' exact arithmetic
        else:
            x = obs.to(dtype).mul_(1.0 / 255.0)
        if self.standard:
            x = (x - self.mean.to(dtype)) / self.std.to(dtype)
        return x


def input_scaling(obs_norm: str, height: int, width: int) -> InputScaling:
    """The InputScaling module of `TrainConfig.obs_norm`."""
    if obs_norm == "unit":
        return InputScaling()
    if obs_norm == "standard":
        return InputScaling(frame_statistics(height, width))
    raise ValueError(f"obs_norm={obs_norm!r} is not one of: 'unit', 'standard'")
