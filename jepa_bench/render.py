"""CartPole pictures: gymnasium's own (the reference) and a batched torch renderer.

Both produce the same observation format: gymnasium's 600x400 picture, image rows
[CROP_TOP, CROP_TOP + CROP_HEIGHT) at full width, grayscale (ITU-R 601 luma), area-resampled to
H x W and rounded to uint8. The default 24 x 96 is a factor of 6.25 in both directions.

The fast renderer draws gymnasium's scene (cart, pole, axle, track line, in gymnasium's draw
order and colours) directly at H x W: every output pixel is the mean of SS x SS sample points
of the 600x400 scene inside its footprint, which approximates area coverage (anti-aliasing).
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

# --- gymnasium's CartPole geometry (gymnasium/envs/classic_control/cartpole.py) ---------------
SCREEN_W, SCREEN_H = 600, 400
X_THRESHOLD = 2.4
SCALE = SCREEN_W / (2 * X_THRESHOLD)  # 125 px per metre
CART_W, CART_H = 50.0, 30.0
CART_TOP_Y = 100.0  # gymnasium's "carty": the cart spans y in [85, 115] (y up)
AXLE_Y = CART_TOP_Y + CART_H / 4.0  # 107.5: the pole's pivot
POLE_W = 10.0
POLE_LEN = SCALE * 2 * 0.5  # 125 px; the drawn rectangle spans -5 .. 120 along the pole
AXLE_R = 5  # int(polewidth / 2)
TRACK_Y = 100  # the 1-px track line, drawn last over everything

LUMA = (0.299, 0.587, 0.114)
GRAY_CART = 0.0
GRAY_POLE = float(np.dot((202, 152, 101), LUMA))
GRAY_AXLE = float(np.dot((129, 132, 203), LUMA))
GRAY_TRACK = 0.0
GRAY_BG = 255.0

# --- the observation's crop -----------------------------------------------------------------
CROP_TOP = 168
"""First image row kept: the upright pole's tip is at row ~172, so 4 rows of margin."""
CROP_HEIGHT = 150
"""Rows kept: down to row 317, below the cart's bottom edge at row 315 (image rows, y down)."""
DEFAULT_HEIGHT, DEFAULT_WIDTH = 24, 96
SUPERSAMPLE = 4
"""Sample points per output pixel and axis (16 per pixel at the default size)."""


def check_resolution(height, width) -> None:
    for name, value, limit in (("height", height, CROP_HEIGHT), ("width", width, SCREEN_W)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or not 1 <= value <= limit:
            raise ValueError(f"{name}={value!r} is not allowed: an integer in [1, {limit}]")


# --- reference path: gymnasium's picture -> our format --------------------------------------

def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix averaging each output cell's exact footprint of input cells."""
    step = n_in / n_out
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        lo, hi = i * step, (i + 1) * step
        for k in range(int(math.floor(lo)), min(n_in, int(math.ceil(hi)))):
            m[i, k] = max(0.0, min(hi, k + 1) - max(lo, k))
    return m / step


_AREA_CACHE: dict = {}


def frame_from_rgb(rgb: np.ndarray, height: int = DEFAULT_HEIGHT,
                   width: int = DEFAULT_WIDTH) -> np.ndarray:
    """gymnasium's (400, 600, 3) uint8 picture -> our (height, width) uint8 frame."""
    key = (height, width)
    if key not in _AREA_CACHE:
        _AREA_CACHE[key] = (_area_matrix(CROP_HEIGHT, height), _area_matrix(SCREEN_W, width))
    rows, cols = _AREA_CACHE[key]
    gray = rgb[CROP_TOP:CROP_TOP + CROP_HEIGHT].astype(np.float64) @ np.asarray(LUMA)
    return np.rint(rows @ gray @ cols.T).clip(0, 255).astype(np.uint8)


class GymRenderer:
    """Sets a gymnasium CartPoleEnv's state and converts its rgb_array picture: the reference."""

    def __init__(self, height: int = DEFAULT_HEIGHT, width: int = DEFAULT_WIDTH):
        from gymnasium.envs.classic_control.cartpole import CartPoleEnv
        check_resolution(height, width)
        self.height, self.width = height, width
        self.env = CartPoleEnv(render_mode="rgb_array")

    def __call__(self, states) -> np.ndarray:
        states = np.asarray(states.cpu() if torch.is_tensor(states) else states, dtype=np.float64)
        out = np.empty((len(states), self.height, self.width), dtype=np.uint8)
        for n, s in enumerate(states):
            self.env.state = s
            out[n] = frame_from_rgb(self.env.render(), self.height, self.width)
        return out

    def close(self) -> None:
        self.env.close()


# --- fast path: one vectorised torch call for N states ----------------------------------------

_GRID_CACHE: dict = {}


def _sample_grid(height: int, width: int, device: torch.device):
    """Scene coordinates (gymnasium's y-up surface) of every sample point: xs (W*SS,), ys (H*SS,)."""
    key = (height, width, str(device))
    if key not in _GRID_CACHE:
        ss = SUPERSAMPLE
        sub = (torch.arange(ss, dtype=torch.float64) + 0.5) / ss
        col = ((torch.arange(width, dtype=torch.float64)[:, None] + sub) * (SCREEN_W / width))
        row = ((torch.arange(height, dtype=torch.float64)[:, None] + sub)
               * (CROP_HEIGHT / height) + CROP_TOP)
        # image row coordinate r (down) <-> surface y = 400 - r (up)
        _GRID_CACHE[key] = (col.flatten().to(device), (SCREEN_H - row.flatten()).to(device))
    return _GRID_CACHE[key]


def render_states(states: torch.Tensor, height: int = DEFAULT_HEIGHT,
                  width: int = DEFAULT_WIDTH) -> torch.Tensor:
    """(N, 4) CartPole states -> (N, height, width) uint8 frames, on the states' device."""
    check_resolution(height, width)
    dev = states.device
    s = states.to(torch.float32)
    xs, ys = _sample_grid(height, width, dev)
    xs, ys = xs.float(), ys.float()
    n = s.shape[0]
    cart_x = s[:, 0] * SCALE + SCREEN_W / 2.0
    theta = s[:, 2]
    X = xs.view(1, 1, -1)  # (1, 1, W*ss)
    Y = ys.view(1, -1, 1)  # (1, H*ss, 1)
    cx = cart_x.view(n, 1, 1)
    img = torch.full((n, ys.numel(), xs.numel()), GRAY_BG, device=dev)
    # cart: axis-aligned rectangle
    cart = ((X - cx).abs() <= CART_W / 2) & ((Y - CART_TOP_Y).abs() <= CART_H / 2)
    img = torch.where(cart, torch.tensor(GRAY_CART, device=dev), img)
    # pole: rectangle [-5, 5] x [-5, 120] in its own frame, rotated by -theta about the axle
    c, sn = torch.cos(theta).view(n, 1, 1), torch.sin(theta).view(n, 1, 1)
    dx, dy = X - cx, Y - AXLE_Y
    u = dx * c - dy * sn  # across the pole
    v = dx * sn + dy * c  # along the pole
    pole = (u.abs() <= POLE_W / 2) & (v >= -POLE_W / 2) & (v <= POLE_LEN - POLE_W / 2)
    img = torch.where(pole, torch.tensor(GRAY_POLE, device=dev), img)
    # axle: gymnasium's integer-centred circle of radius 5 (pixel centres within ~r + 0.5)
    ax = torch.floor(cart_x).view(n, 1, 1) + 0.5
    ay = math.floor(AXLE_Y) + 0.5
    axle = (X - ax) ** 2 + (Y - ay) ** 2 <= (AXLE_R + 0.5) ** 2
    img = torch.where(axle, torch.tensor(GRAY_AXLE, device=dev), img)
    ss = SUPERSAMPLE
    img = img.view(n, height, ss, width, ss).mean(dim=(2, 4))
    # track: the 1-px row y in [100, 101) across the full width, drawn last; too thin for the
    # sample grid, so its exact area share of each output row is blended in
    cover = _track_cover(height, dev).view(1, height, 1)
    img = img * (1 - cover) + GRAY_TRACK * cover
    return img.round_().clamp_(0, 255).to(torch.uint8)


def _track_cover(height: int, device: torch.device) -> torch.Tensor:
    key = ("track", height, str(device))
    if key not in _GRID_CACHE:
        step = CROP_HEIGHT / height
        top = torch.arange(height, dtype=torch.float64) * step + CROP_TOP  # image rows, down
        row_lo, row_hi = SCREEN_H - (TRACK_Y + 1), SCREEN_H - TRACK_Y  # the line's image rows
        overlap = (torch.minimum(top + step, torch.tensor(float(row_hi)))
                   - torch.maximum(top, torch.tensor(float(row_lo)))).clamp(min=0)
        _GRID_CACHE[key] = (overlap / step).float().to(device)
    return _GRID_CACHE[key]


# --- measurements -----------------------------------------------------------------------------

def random_valid_states(n: int, seed: int = 0) -> np.ndarray:
    """States a CartPole episode can show: |x| <= 2.4 (plus one step), |theta| <= 12 deg (+1 step)."""
    rng = np.random.default_rng(seed)
    lim_x, lim_th = X_THRESHOLD + 0.05, 12 * 2 * math.pi / 360 + 0.02
    return np.stack([rng.uniform(-lim_x, lim_x, n), rng.normal(0, 1, n),
                     rng.uniform(-lim_th, lim_th, n), rng.normal(0, 1, n)], axis=1)


def compare_renderers(n_states: int = 1000, seed: int = 0, height: int = DEFAULT_HEIGHT,
                      width: int = DEFAULT_WIDTH) -> dict:
    """Fidelity of the fast renderer against gymnasium's picture over random valid states."""
    states = random_valid_states(n_states, seed)
    ref = GymRenderer(height, width)(states).astype(np.int16)
    fast = render_states(torch.from_numpy(states), height, width).numpy().astype(np.int16)
    diff = np.abs(fast - ref)
    per_state = diff.mean(axis=(1, 2)) / 255.0
    worst = int(per_state.argmax())
    return {"states": n_states, "height": height, "width": width,
            "mean_abs_diff_frac": float(diff.mean() / 255.0),
            "max_state_mean_abs_diff_frac": float(per_state.max()),
            "max_pixel_abs_diff": int(diff.max()),
            "worst_state": [round(float(v), 4) for v in states[worst]]}


def time_renderers(num_envs=(8, 256), height: int = DEFAULT_HEIGHT, width: int = DEFAULT_WIDTH,
                   repeats: int = 5) -> dict:
    """Frames per second of both renderers at each N, and the ratio fast / gym."""
    out = {}
    gym = GymRenderer(height, width)
    for n in num_envs:
        states = torch.from_numpy(random_valid_states(n, seed=n))
        fast_t, gym_t = [], []
        render_states(states, height, width)
        for _ in range(repeats):
            t0 = time.perf_counter()
            render_states(states, height, width)
            fast_t.append(time.perf_counter() - t0)
        for _ in range(max(1, repeats // 2 if n > 64 else repeats)):
            t0 = time.perf_counter()
            gym(states)
            gym_t.append(time.perf_counter() - t0)
        fast_fps, gym_fps = n / float(np.median(fast_t)), n / float(np.median(gym_t))
        out[f"fast_fps_n{n}"] = fast_fps
        out[f"gym_fps_n{n}"] = gym_fps
        out[f"ratio_n{n}"] = fast_fps / gym_fps
    gym.close()
    return out
