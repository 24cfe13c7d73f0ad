"""Pixel CartPole: gymnasium's CartPole-v1 dynamics, observed through the last three frames.

    import gymnasium as gym, jepa_bench
    env = gym.make("jepa_bench/PixelCartPole-v1")                        # one env, (3, H, W) uint8
    envs = gym.make_vec("jepa_bench/PixelCartPole-v1", num_envs=8)       # batched, (8, 3, H, W)

Observations are pixels only (f_{t-2}, f_{t-1}, f_t, oldest first); the true state is in
info["state"] for diagnostics. The vector env steps all envs' physics in one torch call, renders
all frames in one call (renderer="fast") and resets finished envs within the same step
(gymnasium's SAME_STEP autoreset): the returned obs is the new episode's first observation and
info["final_obs"] holds the true last observation of the finished one, so the JEPA target of a
terminal or truncated step is never the next episode's first frame.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv

from jepa_bench.render import (DEFAULT_HEIGHT, DEFAULT_WIDTH, GymRenderer, check_resolution,
                               render_states)

ENV_ID = "jepa_bench/PixelCartPole-v1"
RENDERERS = ("fast", "gym")
MAX_EPISODE_STEPS = 500

# gymnasium CartPole-v1 constants
GRAVITY, MASSCART, MASSPOLE, LENGTH, FORCE_MAG, TAU = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
TOTAL_MASS = MASSCART + MASSPOLE
POLEMASS_LENGTH = MASSPOLE * LENGTH
THETA_THRESHOLD = 12 * 2 * math.pi / 360
X_THRESHOLD = 2.4


def cartpole_step(state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """One Euler step of gymnasium's CartPole for a batch: (N, 4) float64, (N,) {0, 1}."""
    x, x_dot, theta, theta_dot = state.unbind(-1)
    force = torch.where(action.to(torch.bool), FORCE_MAG, -FORCE_MAG).to(state.dtype)
    cos, sin = torch.cos(theta), torch.sin(theta)
    temp = (force + POLEMASS_LENGTH * theta_dot**2 * sin) / TOTAL_MASS
    theta_acc = (GRAVITY * sin - cos * temp) / (
        LENGTH * (4.0 / 3.0 - MASSPOLE * cos**2 / TOTAL_MASS))
    x_acc = temp - POLEMASS_LENGTH * theta_acc * cos / TOTAL_MASS
    return torch.stack([x + TAU * x_dot, x_dot + TAU * x_acc,
                        theta + TAU * theta_dot, theta_dot + TAU * theta_acc], dim=-1)


def is_terminal(state: torch.Tensor) -> torch.Tensor:
    return (state[..., 0].abs() > X_THRESHOLD) | (state[..., 2].abs() > THETA_THRESHOLD)


def _check_renderer(renderer) -> None:
    if renderer not in RENDERERS:
        raise ValueError(f"renderer={renderer!r} is not one of: "
                         f"{', '.join(map(repr, RENDERERS))}")


class _Frames:
    """Draws frames for a batch of states with the chosen renderer, as torch uint8."""

    def __init__(self, renderer: str, height: int, width: int, device: torch.device):
        _check_renderer(renderer)
        check_resolution(height, width)
        self.renderer, self.height, self.width, self.device = renderer, height, width, device
        self._gym = GymRenderer(height, width) if renderer == "gym" else None

    def __call__(self, states: torch.Tensor) -> torch.Tensor:
        if self._gym is None:
            return render_states(states, self.height, self.width)
        return torch.from_numpy(self._gym(states)).to(self.device)

    def close(self) -> None:
        if self._gym is not None:
            self._gym.close()


class PixelCartPoleVectorEnv(VectorEnv):
    """N pixel CartPoles stepped and rendered together (torch, on `device`)."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, num_envs: int = 1, renderer: str = "fast", height: int = DEFAULT_HEIGHT,
                 width: int = DEFAULT_WIDTH, device: str | torch.device = "cpu",
                 array_type: str = "numpy"):
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) \
                or num_envs <= 0:
            raise ValueError(f"num_envs={num_envs!r} is not allowed: a positive integer")
        if array_type not in ("numpy", "torch"):
            raise ValueError(f"array_type={array_type!r} is not one of: 'numpy', 'torch'")
        self.num_envs = int(num_envs)
        self.device = torch.device(device)
        self.array_type = array_type
        self._frames = _Frames(renderer, height, width, self.device)
        self.single_observation_space = spaces.Box(0, 255, (3, height, width), np.uint8)
        self.single_action_space = spaces.Discrete(2)
        self.observation_space = spaces.Box(0, 255, (self.num_envs, 3, height, width), np.uint8)
        self.action_space = spaces.MultiDiscrete(np.full(self.num_envs, 2))
        n = self.num_envs
        self.state = torch.zeros((n, 4), dtype=torch.float64, device=self.device)
        self.stack = torch.zeros((n, 3, height, width), dtype=torch.uint8, device=self.device)
        self.elapsed = torch.zeros(n, dtype=torch.long, device=self.device)
        self._rngs = [seeding.np_random(None)[0] for _ in range(n)]

    # -- helpers ------------------------------------------------------------------------------
    def _initial_states(self, idx: list[int]) -> torch.Tensor:
        """gymnasium's reset distribution, each env drawing from its own generator."""
        draws = np.stack([self._rngs[i].uniform(-0.05, 0.05, size=(4,)) for i in idx])
        return torch.as_tensor(draws, dtype=torch.float64, device=self.device)

    def _out(self, x: torch.Tensor):
        return x if self.array_type == "torch" else x.cpu().numpy()

    # -- gymnasium API ------------------------------------------------------------------------
    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        if seed is not None:
            seeds = seed if isinstance(seed, (list, tuple)) else [seed + i for i in
                                                                  range(self.num_envs)]
            self._rngs = [seeding.np_random(int(s))[0] for s in seeds]
        idx = list(range(self.num_envs))
        self.state = self._initial_states(idx)
        frame = self._frames(self.state)
        self.stack = frame[:, None].expand(-1, 3, -1, -1).contiguous()
        self.elapsed.zero_()
        return self._out(self.stack.clone()), {"state": self._out(self.state.clone())}

    def step(self, actions):
        actions = torch.as_tensor(actions, device=self.device).reshape(self.num_envs)
        self.state = cartpole_step(self.state, actions)
        self.elapsed += 1
        terminated = is_terminal(self.state)
        truncated = (self.elapsed >= MAX_EPISODE_STEPS) & ~terminated
        frame = self._frames(self.state)
        self.stack = torch.cat([self.stack[:, 1:], frame[:, None]], dim=1)
        reward = torch.ones(self.num_envs, dtype=torch.float32, device=self.device)
        done = terminated | truncated
        info = {"_final_obs": self._out(done.clone())}
        if bool(done.any()):
            info["final_obs"] = self._out(self.stack.clone())
            info["final_state"] = self._out(self.state.clone())
            idx = torch.nonzero(done).flatten().tolist()
            new = self._initial_states(idx)
            self.state[idx] = new
            self.stack[idx] = self._frames(new)[:, None].expand(-1, 3, -1, -1)
            self.elapsed[idx] = 0
        info["state"] = self._out(self.state.clone())
        return (self._out(self.stack.clone()), self._out(reward), self._out(terminated),
                self._out(truncated), info)

    def get_state(self) -> dict:
        return {"state": self.state.clone(), "stack": self.stack.clone(),
                "elapsed": self.elapsed.clone(),
                "rngs": [r.bit_generator.state for r in self._rngs]}

    def set_state(self, saved: dict) -> None:
        self.state = saved["state"].to(self.device).clone()
        self.stack = saved["stack"].to(self.device).clone()
        self.elapsed = saved["elapsed"].to(self.device).clone()
        for rng, st in zip(self._rngs, saved["rngs"]):
            rng.bit_generator.state = st

    def close_extras(self, **kwargs) -> None:
        self._frames.close()


class PixelCartPoleEnv(gym.Env):
    """One pixel CartPole: gymnasium's CartPole-v1 dynamics, (3, H, W) uint8 frame stacks."""

    metadata = {"render_modes": []}

    def __init__(self, renderer: str = "fast", height: int = DEFAULT_HEIGHT,
                 width: int = DEFAULT_WIDTH):
        self._frames = _Frames(renderer, height, width, torch.device("cpu"))
        self.observation_space = spaces.Box(0, 255, (3, height, width), np.uint8)
        self.action_space = spaces.Discrete(2)
        self.state = np.zeros(4)
        self._stack = np.zeros((3, height, width), np.uint8)
        self._elapsed = 0

    def _frame(self) -> np.ndarray:
        return self._frames(torch.as_tensor(self.state[None], dtype=torch.float64))[0].numpy()

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.state = self.np_random.uniform(-0.05, 0.05, size=(4,))
        self._stack = np.repeat(self._frame()[None], 3, axis=0)
        self._elapsed = 0
        return self._stack.copy(), {"state": self.state.copy()}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action={action!r} is not one of: 0, 1")
        state = torch.as_tensor(self.state[None], dtype=torch.float64)
        self.state = cartpole_step(state, torch.as_tensor([int(action)]))[0].numpy()
        self._elapsed += 1
        terminated = bool(is_terminal(torch.as_tensor(self.state)))
        truncated = self._elapsed >= MAX_EPISODE_STEPS and not terminated
        self._stack = np.concatenate([self._stack[1:], self._frame()[None]], axis=0)
        return self._stack.copy(), 1.0, terminated, truncated, {"state": self.state.copy()}

    def close(self) -> None:
        self._frames.close()


def register_envs() -> None:
    """Register the env with gymnasium (idempotent); importing jepa_bench calls this."""
    if ENV_ID in gym.registry:
        return
    gym.register(id=ENV_ID, entry_point=PixelCartPoleEnv,
                 vector_entry_point=PixelCartPoleVectorEnv)
