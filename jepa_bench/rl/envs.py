"""Pixel CartPole: gymnasium's CartPole-v1 dynamics, observed through its last three frames.

    import gymnasium as gym, jepa_bench
    env = gym.make("jepa_bench/PixelCartPole-v1")                   # one env: (3, H, W) uint8
    envs = gym.make_vec("jepa_bench/PixelCartPole-v1", num_envs=8)  # batched: (8, 3, H, W) uint8
    env = gym.make("jepa_bench/PixelCartPole-v1", render_mode="rgb_array")
    env.render()                                                    # (H, W, 3) uint8, grey

render_mode="rgb_array" (the only mode) makes render() return the agent's newest frame f_t as an
RGB array, (H, W, 3) uint8 with the grey value in all three channels: what the agent sees, at
its resolution (24 x 96 by default), not gymnasium's 600 x 400 picture. The vector env's
render() returns one such frame per env, as a tuple.

Observations are pixels only: frames f_{t-2}, f_{t-1}, f_t (oldest first; all three equal the
first frame after a reset). The true state [x, x_dot, theta, theta_dot] (float64) is in
info["state"], for diagnostics. Episodes terminate at |x| > 2.4 or |theta| > 12 degrees and
truncate after 500 steps (both can hold at once, as with gymnasium's TimeLimit); reward 1 per
step.

PixelCartPoleVectorEnv steps all physics in one torch call (float64, on ``device``), renders all
frames in one call (renderer="fast") and resets finished envs within the same step (gymnasium's
SAME_STEP autoreset): the returned obs is then the new episode's first observation, and
info["final_obs"] holds the true last observation (f_{t-1}, f_t, f_{t+1}) of the finished one,
so a JEPA or value target of a terminal or truncated step is never the next episode's frame.
get_state() / set_state() capture everything needed to continue bit-identically.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv

from jepa_bench import ENV_ID, register_envs  # noqa: F401  (the env's id and registration)
from jepa_bench.rl.render import (X_THRESHOLD, DEFAULT_HEIGHT, DEFAULT_WIDTH, GymRenderer, check_resolution,
                               render_states)

RENDERERS = ("fast", "gym")
ARRAY_TYPES = ("numpy", "torch")
MAX_EPISODE_STEPS = 500  # CartPole-v1's TimeLimit
RESET_BOUND = 0.05  # initial state ~ uniform(-0.05, 0.05)^4, as gymnasium draws it

# gymnasium CartPole-v1 constants (gymnasium/envs/classic_control/cartpole.py)
GRAVITY = 9.8
MASSCART = 1.0
MASSPOLE = 0.1
TOTAL_MASS = MASSPOLE + MASSCART
LENGTH = 0.5  # half the pole's length
POLEMASS_LENGTH = MASSPOLE * LENGTH
FORCE_MAG = 10.0
TAU = 0.02  # seconds per step (explicit Euler)
THETA_THRESHOLD = 12 * 2 * math.pi / 360
# X_THRESHOLD (2.4, where an episode ends) comes from jepa_bench.rl.render, which draws from it


def cartpole_step(state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """One Euler step of gymnasium's CartPole for a batch: (N, 4) float64, (N,) actions in {0, 1}.

    Same formulas in the same order as gymnasium, so results agree to the last bit or two (the
    batched sin/cos may round differently). On the CPU numpy does the arithmetic (less overhead
    per call than torch for small batches).
    """
    if state.device.type == "cpu":
        return torch.from_numpy(_euler(np, state.numpy(), action.numpy() == 1))
    return _euler(torch, state, (action == 1).to(state.dtype))


def _euler(xp, state, push_right):
    x, x_dot, theta, theta_dot = state[:, 0], state[:, 1], state[:, 2], state[:, 3]
    force = FORCE_MAG * (push_right * 2.0 - 1.0)
    costheta, sintheta = xp.cos(theta), xp.sin(theta)
    temp = (force + POLEMASS_LENGTH * (theta_dot * theta_dot) * sintheta) / TOTAL_MASS
    thetaacc = (GRAVITY * sintheta - costheta * temp) / (
        LENGTH * (4.0 / 3.0 - MASSPOLE * (costheta * costheta) / TOTAL_MASS))
    xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS
    return xp.stack([x + TAU * x_dot, x_dot + TAU * xacc,
                     theta + TAU * theta_dot, theta_dot + TAU * thetaacc], 1)


def cartpole_step_np(state: np.ndarray, action: int) -> np.ndarray:
    """gymnasium's CartPoleEnv.step physics for one state, bit for bit (numpy float64 scalars)."""
    x, x_dot, theta, theta_dot = state
    force = FORCE_MAG if action == 1 else -FORCE_MAG
    costheta = np.cos(theta)
    sintheta = np.sin(theta)
    temp = (force + POLEMASS_LENGTH * np.square(theta_dot) * sintheta) / TOTAL_MASS
    thetaacc = (GRAVITY * sintheta - costheta * temp) / (
        LENGTH * (4.0 / 3.0 - MASSPOLE * np.square(costheta) / TOTAL_MASS))
    xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS
    return np.array((x + TAU * x_dot, x_dot + TAU * xacc, theta + TAU * theta_dot,
                     theta_dot + TAU * thetaacc), dtype=np.float64)


def is_terminal(state: torch.Tensor) -> torch.Tensor:
    """(N, 4) -> (N,) bool: the cart left the track or the pole fell past 12 degrees."""
    s = state.numpy() if state.device.type == "cpu" else state
    x, theta = s[..., 0], s[..., 2]
    out = (x < -X_THRESHOLD) | (x > X_THRESHOLD) | (theta < -THETA_THRESHOLD) | (
        theta > THETA_THRESHOLD)
    return torch.as_tensor(out) if state.device.type == "cpu" else out


def check_renderer(renderer) -> str:
    if not isinstance(renderer, str) or renderer not in RENDERERS:
        raise ValueError(f"renderer={renderer!r} is not one of: "
                         f"{', '.join(map(repr, RENDERERS))}")
    return renderer


def check_num_envs(num_envs) -> int:
    try:
        n = operator.index(num_envs)
    except TypeError:
        n = None
    if n is None or isinstance(num_envs, bool) or n <= 0:
        raise ValueError(f"num_envs={num_envs!r} is not a positive int")
    return n


def _check_options(options) -> None:
    if options:
        raise ValueError(f"options={options!r} are not supported (reset takes none)")


class _Painter:
    """Frames of a batch of states with the chosen renderer, as a torch uint8 (N, H, W) tensor."""

    def __init__(self, renderer: str, height: int, width: int, device: torch.device):
        self.renderer = check_renderer(renderer)
        self.height, self.width = check_resolution(height, width)
        self.device = device
        self._gym = GymRenderer(height, width) if renderer == "gym" else None

    def __call__(self, states: torch.Tensor) -> torch.Tensor:
        if self._gym is None:
            return render_states(states, self.height, self.width)
        return torch.from_numpy(self._gym(states.cpu().numpy())).to(self.device)

    def close(self) -> None:
        if self._gym is not None:
            self._gym.close()


RENDER_MODES = ("rgb_array",)
RENDER_FPS = 50  # 1 / TAU


def check_render_mode(render_mode) -> str | None:
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise ValueError(f"render_mode={render_mode!r} is not supported; use 'rgb_array' (the "
                         "agent's frame as (H, W, 3) uint8) or None")
    return render_mode


def _rgb(frame: np.ndarray) -> np.ndarray:
    """A grey (H, W) uint8 frame as the (H, W, 3) RGB array gymnasium's render() returns."""
    return np.repeat(np.asarray(frame, dtype=np.uint8)[..., None], 3, axis=-1)


class PixelCartPoleVectorEnv(VectorEnv):
    """N pixel CartPoles, stepped and rendered together in torch on ``device``.

    array_type="torch" returns torch tensors on ``device`` (obs uint8, reward float32,
    terminated / truncated bool, info arrays); "numpy" returns numpy arrays.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": list(RENDER_MODES),
                "render_fps": RENDER_FPS}

    def __init__(self, num_envs: int = 1, renderer: str = "fast", height: int = DEFAULT_HEIGHT,
                 width: int = DEFAULT_WIDTH, device: str | torch.device = "cpu",
                 array_type: str = "numpy", render_mode: str | None = None):
        self.render_mode = check_render_mode(render_mode)
        self.num_envs = check_num_envs(num_envs)
        if array_type not in ARRAY_TYPES:
            raise ValueError(f"array_type={array_type!r} is not one of: "
                             f"{', '.join(map(repr, ARRAY_TYPES))}")
        self.device = torch.device(device)
        self.array_type = array_type
        self._paint = _Painter(renderer, height, width, self.device)
        self.renderer = renderer
        self.height, self.width = self._paint.height, self._paint.width
        n, shape = self.num_envs, (3, self.height, self.width)
        self.single_observation_space = spaces.Box(0, 255, shape, np.uint8)
        self.observation_space = spaces.Box(0, 255, (n,) + shape, np.uint8)
        self.single_action_space = spaces.Discrete(2)
        self.action_space = spaces.MultiDiscrete(np.full(n, 2))
        self._state = torch.zeros((n, 4), dtype=torch.float64, device=self.device)
        self._stack = torch.zeros((n,) + shape, dtype=torch.uint8, device=self.device)
        self._elapsed = torch.zeros(n, dtype=torch.long, device=self.device)
        self._rngs = [seeding.np_random(None)[0] for _ in range(n)]
        self._needs_reset = True

    # -- helpers ---------------------------------------------------------------------------------
    def _draw_initial(self, idx: list[int]) -> torch.Tensor:
        """Each listed env draws its initial state from its own generator, as gymnasium does."""
        draws = np.stack([self._rngs[i].uniform(-RESET_BOUND, RESET_BOUND, size=(4,))
                          for i in idx])
        return torch.as_tensor(draws, dtype=torch.float64, device=self.device)

    def _out(self, x: torch.Tensor):
        return x if self.array_type == "torch" else x.cpu().numpy()

    def _actions(self, actions) -> torch.Tensor:
        a = torch.as_tensor(np.asarray(actions) if not torch.is_tensor(actions) else actions,
                            device=self.device)
        if a.shape != (self.num_envs,) or a.is_floating_point() or a.is_complex():
            raise ValueError(f"actions of shape {tuple(a.shape)} and dtype {a.dtype} are not "
                             f"({self.num_envs},) ints in {{0, 1}}")
        return a.long()

    # -- gymnasium API ----------------------------------------------------------------------------
    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        """Reset every env. seed=s seeds env i with s + i; a list gives one seed per env."""
        _check_options(options)
        if seed is not None:
            if isinstance(seed, (list, tuple)):
                if len(seed) != self.num_envs:
                    raise ValueError(f"seed list of length {len(seed)} is not one per env "
                                     f"({self.num_envs})")
                seeds = [int(s) for s in seed]
            else:
                seeds = [int(seed) + i for i in range(self.num_envs)]
            self._rngs = [seeding.np_random(s)[0] for s in seeds]
        self._state = self._draw_initial(list(range(self.num_envs)))
        self._stack = self._paint(self._state)[:, None].repeat(1, 3, 1, 1)
        self._elapsed = torch.zeros_like(self._elapsed)
        self._needs_reset = False
        return self._out(self._stack.clone()), {"state": self._out(self._state.clone())}

    def step(self, actions):
        """actions (N,) ints in {0, 1} -> obs, reward, terminated, truncated, info.

        info: "state" (N, 4) after any autoreset; "final_obs" (N, 3, H, W) and "final_state"
        (N, 4), true for the envs that finished this step (the masks "_final_obs" and
        "_final_state"), equal to obs and state for the others.
        """
        if self._needs_reset:
            raise RuntimeError("call reset() before step()")
        a = self._actions(actions)
        state = cartpole_step(self._state, a)
        elapsed = self._elapsed + 1
        terminated = is_terminal(state)
        truncated = elapsed >= MAX_EPISODE_STEPS
        done = terminated | truncated
        stack = torch.cat([self._stack[:, 1:], self._paint(state)[:, None]], dim=1)
        bad, any_done = torch.stack([((a < 0) | (a > 1)).any(), done.any()]).tolist()
        if bad:
            raise ValueError(f"actions {a.tolist()} are not all in {{0, 1}}")
        final_obs, final_state = stack, state
        if any_done:
            # SAME_STEP autoreset: finished envs start their next episode now.
            idx = torch.nonzero(done).flatten().tolist()
            fresh = self._draw_initial(idx)
            rows = torch.as_tensor(idx, device=self.device)
            state = state.index_copy(0, rows, fresh)
            stack = stack.index_copy(0, rows, self._paint(fresh)[:, None].repeat(1, 3, 1, 1))
            elapsed = elapsed.masked_fill(done, 0)
        self._state, self._stack, self._elapsed = state, stack, elapsed
        reward = torch.ones(self.num_envs, dtype=torch.float32, device=self.device)
        mask = self._out(done)
        info = {"state": self._out(state.clone()), "final_obs": self._out(final_obs.clone()),
                "_final_obs": mask, "final_state": self._out(final_state.clone()),
                "_final_state": mask}
        return (self._out(stack.clone()), self._out(reward), self._out(terminated),
                self._out(truncated), info)

    def get_state(self) -> dict:
        """Everything step() depends on (CPU copies): physics, frame stacks, steps, RNGs."""
        return {
            "num_envs": self.num_envs, "height": self.height, "width": self.width,
            "state": self._state.cpu().clone(), "stack": self._stack.cpu().clone(),
            "elapsed": self._elapsed.cpu().clone(), "needs_reset": self._needs_reset,
            "rngs": [r.bit_generator.state for r in self._rngs],
        }

    def set_state(self, saved: dict) -> None:
        """Restore a get_state() dict; the next steps are bit-identical to the saved env's."""
        want = (self.num_envs, self.height, self.width)
        got = (saved["num_envs"], saved["height"], saved["width"])
        if got != want:
            raise ValueError(f"saved (num_envs, height, width)={got} is not this env's {want}")
        self._state = saved["state"].to(self.device, torch.float64).clone()
        self._stack = saved["stack"].to(self.device, torch.uint8).clone()
        self._elapsed = saved["elapsed"].to(self.device, torch.long).clone()
        self._needs_reset = bool(saved["needs_reset"])
        rngs = []
        for st in saved["rngs"]:
            rng = np.random.Generator(getattr(np.random, st["bit_generator"])())
            rng.bit_generator.state = st
            rngs.append(rng)
        self._rngs = rngs

    def render(self):
        """render_mode='rgb_array': each env's newest frame as (H, W, 3) uint8, in a tuple."""
        if self.render_mode is None:
            return None
        if self._needs_reset:
            raise RuntimeError("call reset() before render()")
        return tuple(_rgb(f) for f in self._stack[:, -1].cpu().numpy())

    def close_extras(self, **kwargs: Any) -> None:
        self._paint.close()

    def __repr__(self) -> str:
        return (f"PixelCartPoleVectorEnv(num_envs={self.num_envs}, renderer={self.renderer!r}, "
                f"height={self.height}, width={self.width}, device={str(self.device)!r})")


class PixelCartPoleEnv(gym.Env):
    """One pixel CartPole: gymnasium's CartPole-v1 physics (bit for bit), (3, H, W) uint8 obs."""

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": RENDER_FPS}

    def __init__(self, renderer: str = "fast", height: int = DEFAULT_HEIGHT,
                 width: int = DEFAULT_WIDTH, render_mode: str | None = None):
        self.render_mode = check_render_mode(render_mode)
        self._paint = _Painter(renderer, height, width, torch.device("cpu"))
        self.renderer = renderer
        self.height, self.width = self._paint.height, self._paint.width
        self.observation_space = spaces.Box(0, 255, (3, self.height, self.width), np.uint8)
        self.action_space = spaces.Discrete(2)
        self.state: np.ndarray | None = None
        self._stack = np.zeros((3, self.height, self.width), np.uint8)
        self._elapsed = 0

    def _frame(self) -> np.ndarray:
        return self._paint(torch.as_tensor(self.state[None]))[0].numpy()

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        _check_options(options)
        super().reset(seed=seed)
        self.state = self.np_random.uniform(-RESET_BOUND, RESET_BOUND, size=(4,))
        self._stack = np.repeat(self._frame()[None], 3, axis=0)
        self._elapsed = 0
        return self._stack.copy(), {"state": self.state.copy()}

    def step(self, action):
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"action={action!r} is not one of: 0, 1")
        self.state = cartpole_step_np(self.state, int(action))
        self._elapsed += 1
        x, theta = self.state[0], self.state[2]
        terminated = bool(x < -X_THRESHOLD or x > X_THRESHOLD
                          or theta < -THETA_THRESHOLD or theta > THETA_THRESHOLD)
        truncated = self._elapsed >= MAX_EPISODE_STEPS
        self._stack = np.concatenate([self._stack[1:], self._frame()[None]], axis=0)
        return self._stack.copy(), 1.0, terminated, truncated, {"state": self.state.copy()}

    def render(self):
        """render_mode='rgb_array': the newest frame f_t as (H, W, 3) uint8 (grey in R, G, B)."""
        if self.render_mode is None:
            return None
        if self.state is None:
            raise RuntimeError("call reset() before render()")
        return _rgb(self._stack[-1])

    def close(self) -> None:
        self._paint.close()

