"""Pixel CartPole pictures: gymnasium's own frame (the reference) and a fast batched renderer.

Both paths give the same format: gymnasium's 600x400 picture, image rows [CROP_TOP, CROP_TOP +
150) at full width, grayscale by ITU-R 601 luma, exact area resampling to (height, width),
rounded half up to uint8.

- ``GymRenderer`` / ``frame_from_rgb``: gymnasium's ``CartPoleEnv.render()`` (pygame), converted.
- ``render_states``: the same scene for N states in one batch of array operations, straight at
  (height, width). It does not rasterise at 600x400: it models what pygame puts on each pixel row
  (gfxdraw's filled-polygon spans and the Wu anti-aliased edges around them, the axle sprite,
  the cart, the track line) as intervals and integrates them exactly over the output pixels.
- ``compare_renderers`` / ``time_renderers``: the fidelity and speed figures.

    python -c "from jepa_bench.rl.render import compare_renderers as c; print(c())"
    python -c "from jepa_bench.rl.render import time_renderers as t; print(t())"
"""

from __future__ import annotations

import math
import operator
import os
import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

# ----------------------------------------------------------------------------------------------
# Picture format (decided by the lead; see spec). One-line reasons.
SCREEN_W, SCREEN_H = 600, 400  # gymnasium CartPole rgb_array size
CROP_HEIGHT = 150  # rows kept: 600/150 = 96/24, so default pixels are square (6.25 x 6.25)
# Gymnasium's drawing occupies image rows 172 (pole top, |theta| = atan(5/120)) to 314 (cart
# bottom) for every state (checked in tests, also beyond the thresholds); 168 leaves 4 white rows
# above and 3 below.
CROP_TOP = 168
DEFAULT_HEIGHT, DEFAULT_WIDTH = 24, 96  # factor 6.25 area resampling of the 150 x 600 crop
LUMA = (0.299, 0.587, 0.114)  # ITU-R 601 luma weights (R, G, B)

# ----------------------------------------------------------------------------------------------
# Gymnasium's scene (gymnasium/envs/classic_control/cartpole.py, render()), in pygame surface
# coordinates: x to the right, y up (the surface is flipped vertically before it is returned).
X_THRESHOLD = 2.4  # half the world width shown on screen, and where an episode ends (envs)
SCALE = SCREEN_W / (X_THRESHOLD * 2)  # pixels per metre (computed as gymnasium does)
CART_HALF_W, CART_HALF_H = 25.0, 15.0  # cart is 50 x 30
CART_Y = 100  # cart centre row (gymnasium calls it "top of cart"); also the track line row
AXLE_Y = CART_Y + 7.5  # pole pivot (axleoffset = cartheight / 4)
AXLE_RADIUS = 5  # int(polewidth / 2)
POLE_HALF_W = 5.0  # polewidth = 10
POLE_TOP = SCALE * 1.0 - POLE_HALF_W  # polelen - polewidth / 2 = 120
# Pole corners before rotation, in gymnasium's order: (l, b), (l, t), (r, t), (r, b).
POLE_CORNERS = ((-POLE_HALF_W, -POLE_HALF_W), (-POLE_HALF_W, POLE_TOP),
                (POLE_HALF_W, POLE_TOP), (POLE_HALF_W, -POLE_HALF_W))
CART_RGB, POLE_RGB, AXLE_RGB, TRACK_RGB = (0, 0, 0), (202, 152, 101), (129, 132, 203), (0, 0, 0)


def luma(rgb) -> float:
    """Gray level of an RGB colour."""
    return float(sum(w * c for w, c in zip(LUMA, rgb)))


# ----------------------------------------------------------------------------------------------
# Validation


def check_resolution(height, width) -> tuple[int, int]:
    """Return (height, width) as ints, or raise a one-line ValueError."""
    out = []
    for name, value, limit, why in (("height", height, CROP_HEIGHT, "the crop height"),
                                    ("width", width, SCREEN_W, "the screen width")):
        try:
            v = operator.index(value)
        except TypeError:
            v = None
        if v is None or isinstance(value, bool) or not 1 <= v <= limit:
            raise ValueError(f"{name}={value!r} is not an int in [1, {limit}] ({why})")
        out.append(v)
    return out[0], out[1]


# ----------------------------------------------------------------------------------------------
# Reference path: gymnasium's own picture


@lru_cache(maxsize=16)
def area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) exact area-resampling weights: each output cell averages its footprint."""
    scale = n_in / n_out
    lo = np.arange(n_out)[:, None] * scale
    k = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(lo + scale, k + 1) - np.maximum(lo, k), 0.0, None)
    m = overlap / scale
    m.setflags(write=False)
    return m


@lru_cache(maxsize=16)
def _area_t(n_in: int, n_out: int) -> torch.Tensor:
    return torch.tensor(area_matrix(n_in, n_out))


def frame_from_rgb(rgb: np.ndarray, height: int = DEFAULT_HEIGHT,
                   width: int = DEFAULT_WIDTH) -> np.ndarray:
    """Gymnasium rgb_array picture(s) (..., 400, 600, 3) uint8 -> (..., height, width) uint8.

    Rows [CROP_TOP, CROP_TOP + 150), ITU-R 601 luma, exact area average, rounded half up.
    (torch does the arithmetic: numpy's BLAS threads fight torch's for the CPU.)
    """
    height, width = check_resolution(height, width)
    rgb = np.asarray(rgb)
    if rgb.shape[-3:] != (SCREEN_H, SCREEN_W, 3):
        raise ValueError(f"picture shape {rgb.shape} does not end in ({SCREEN_H}, {SCREEN_W}, 3)")
    crop = torch.from_numpy(np.ascontiguousarray(rgb[..., CROP_TOP:CROP_TOP + CROP_HEIGHT, :, :]))
    gray = crop.to(torch.float64) @ torch.tensor(LUMA, dtype=torch.float64)
    out = _area_t(CROP_HEIGHT, height) @ gray @ _area_t(SCREEN_W, width).T
    return (out + 0.5).floor_().clamp_(0, 255).to(torch.uint8).numpy()  # round half up


class GymRenderer:
    """Gymnasium's CartPoleEnv(render_mode="rgb_array") drawing given states, then frame_from_rgb.

    One pygame surface per instance; not thread-safe. This is the slow reference path.
    """

    def __init__(self, height: int = DEFAULT_HEIGHT, width: int = DEFAULT_WIDTH):
        self.height, self.width = check_resolution(height, width)
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # headless machines
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        from gymnasium.envs.classic_control.cartpole import CartPoleEnv

        self._env = CartPoleEnv(render_mode="rgb_array")

    def frame(self, state) -> np.ndarray:
        """Gymnasium's (400, 600, 3) uint8 picture of one state."""
        self._env.state = np.asarray(state, dtype=np.float64).reshape(4)
        return self._env.render()

    def __call__(self, states) -> np.ndarray:
        """(N, 4) or (4,) states -> (N, H, W) or (H, W) uint8."""
        states = np.asarray(states, dtype=np.float64)
        frames = np.stack([self.frame(s) for s in states.reshape(-1, 4)])
        obs = frame_from_rgb(frames, self.height, self.width)
        return obs.reshape(states.shape[:-1] + obs.shape[-2:])

    def close(self) -> None:
        self._env.close()


# ----------------------------------------------------------------------------------------------
# Fast path
#
# What pygame draws, row by row (surface row y, pixel x covers [x, x + 1) in the picture):
# - cart: gfxdraw polygon with corners int(cartx -+ 25), rows 85..115: exactly pixels
#   [int(cartx - 25), int(cartx + 25)] in those rows (its aa outline is axis-aligned, so solid).
# - pole: aapolygon (Wu lines along the 4 edges) then filled_polygon, corners truncated by int().
#   The fill puts row y's pixels from round(X_left(y)) to round(X_right(y)) (X = edge crossing of
#   the scanline; gfxdraw rounds half up); Wu's pixels outside that span leave a partial pixel.
#   Along the long (y-major) sides the row's ink is then exactly the coverage of the interval
#   [min(X, round(X)), max(X, ceil(X - 0.5)) + 1). Along the short (x-major) top and bottom
#   edges Wu leaves a ramp in the rows they cross; it has the ink of a sharp edge where the line
#   crosses y -+ 0.5 (half a row away from the pole), and that is what is drawn.
# - axle: gfxdraw circle of radius 5 at (int(cartx), 107): a fixed sprite (half-widths per row
#   below); in its top and bottom rows the centre pixel plus aa pixels at +-1 and +-2 with
#   weights 229/256 and 153/256 (read off gymnasium's render), drawn as a centred interval of the
#   same ink.
# - track: hline over the whole row 100, drawn last.
# Each row's pole, axle and pole-under-axle intervals and the cart's are integrated exactly over
# the output pixels. Measured fidelity: compare_renderers() (mean |diff| ~ 0.002 % of 255, a few
# gray levels at most; up to ~10 where the pole crosses the screen edge and pygame clips lines).

_BAND_LO = 101  # lowest row the pole reaches (|theta| <= _THETA_MAX); row 100 is the track
_BAND_HI = SCREEN_H - 1 - CROP_TOP  # highest row inside the crop
_THETA_MAX = 0.5  # |theta| is clipped to this (episodes end by 0.21 + one step, ~0.3)
_CART_ROWS = (int(CART_Y - CART_HALF_H), int(CART_Y + CART_HALF_H))  # 85..115 inclusive
_AXLE_AA = (229 + 153) / 256  # ink of the aa pixels on one side of the axle's top/bottom row
_AXLE_HALF_W = {-5: _AXLE_AA, -4: 3, -3: 4, -2: 5, -1: 5, 0: 5, 1: 5, 2: 5, 3: 4, 4: 3, 5: _AXLE_AA}
# A flat top (bottom) edge gets this rise, so that it bounds the rows from above (below) as a
# sloped one does: its line is 500 px off half a row away.
_FLAT_TILT = (0.0, -1e-2, 0.0, 1e-2)
_BIG = 1.0e7  # pushes an edge out of a max; far beyond any coordinate above (< 2e5)
_TOP_LO = 204  # the top edge only bounds rows from here up (|theta| <= _THETA_MAX)
_BOTTOM_HI = 112  # the bottom edge only bounds rows up to here
_AXLE_ROWS = (int(AXLE_Y) - AXLE_RADIUS, int(AXLE_Y) + AXLE_RADIUS)  # 102..112
# Geometry columns ([x, cos theta, sin theta] @ mat + bias, then int()): 0-3 pole corner x,
# 4-7 corner y (edge e runs from corner e to corner e + 1), 8-15 the same for the next corner,
# 16 cart left, 17 cart right + 1 (int(cartx + 26) = int(cartx + 25) + 1 while >= 0),
# 18 axle centre x, 19 one, 20 zero, 21 the screen's right end.
_N_GEO = 22


@dataclass(frozen=True)
class _Plan:
    """Constant arrays for one (height, width, backend): numpy on the CPU, torch elsewhere."""

    height: int
    width: int
    inv_sx: float  # output columns per native column
    n_band: int  # R
    n_top: int  # band rows the top edge can bound (the last ones)
    n_bottom: int  # band rows the bottom edge can bound (the first ones)
    axle: slice  # band rows of the axle
    mat: object  # (3, _N_GEO)
    bias: object  # (_N_GEO,)
    flat_tilt: object  # (4,)
    lines: object  # (12, 16): line inputs -> intercept and slope per (lo/hi, kind), see _plan
    kind: object  # (C,) long: the kind of each boundary column
    row: object  # (C,) the row each boundary column is evaluated at
    row_const: object  # (2, C) per-column constants (the axle's half widths)
    gather: object  # (M,) step -> index in the per-state step table
    coef0: object  # (2, M) float32 (k, 0): gray change k of each step (x row weight) ...
    coefd: object  # (2, M) float32 (-k, k): ... and how it moves to the next column
    slot: object  # (2, M) float: output row * (W + 2) (+ 1 for the next column)
    per_n: dict  # N -> (take index (N, M), flat output index base (N, 2, M)), on demand


@lru_cache(maxsize=32)
def _plan(height: int, width: int, backend) -> _Plan:
    """backend: "numpy", or the torch.device the arrays live on."""
    sy, sx = CROP_HEIGHT / height, SCREEN_W / width
    band = np.arange(_BAND_LO, _BAND_HI + 1)
    n_band = len(band)
    axle_rows = np.arange(_AXLE_ROWS[0], _AXLE_ROWS[1] + 1)
    n_axle = len(axle_rows)
    # Step table per state (built in _draw): pole start and end on every band row, axle start
    # and end and under start and end on the axle rows, then geometry columns 16-21.
    term_at = [0, n_band, 2 * n_band, 2 * n_band + n_axle, 2 * n_band + 2 * n_axle,
               2 * n_band + 3 * n_axle]
    geo_at = 2 * n_band + 4 * n_axle
    cart_slots = geo_at + np.arange(2)
    start_slot, end_slot = geo_at + 4, geo_at + 5  # positions 0 and 600

    # Darkness (255 - gray) of three intervals per band row: the pole, the axle, and the part of
    # the pole under the axle (which the axle paints over). Each interval is a step up at its
    # start and down at its end.
    bg = np.where(band > _CART_ROWS[1], 255.0, luma(CART_RGB))  # pole is inside the cart below
    k_pole = bg - luma(POLE_RGB)
    is_axle = (band >= _AXLE_ROWS[0]) & (band <= _AXLE_ROWS[1])
    k_axle = np.where(is_axle, bg - luma(AXLE_RGB), 0.0)
    k_under = np.where(is_axle, -k_pole, 0.0)
    k_rows = np.stack([k_pole, -k_pole, k_axle, -k_axle, k_under, -k_under])  # (6, R)
    k_cart = (255.0 - luma(CART_RGB)) * np.array([1.0, -1.0])
    k_line = 255.0 - luma(TRACK_RGB)

    # Output row i covers crop rows [i sy, (i + 1) sy); crop row u is surface row _BAND_HI - u.
    # Every (output row, step) pair with a nonzero weight becomes one entry.
    gather, coef, row_of = [], [], []

    def add(i, slot, k):
        if k != 0.0:
            gather.append(slot), coef.append(k), row_of.append(i)

    for i in range(height):
        cart_w = line_w = 0.0
        for u in range(int(math.floor(i * sy)), min(CROP_HEIGHT, int(math.ceil((i + 1) * sy)))):
            w = min((i + 1) * sy, u + 1) - max(i * sy, u)
            y = _BAND_HI - u
            if _BAND_LO <= y <= _BAND_HI:
                for term, at in enumerate(term_at):
                    j = y - _BAND_LO if term < 2 else y - _AXLE_ROWS[0]
                    add(i, at + j, w * k_rows[term, y - _BAND_LO])
            if y == CART_Y:
                line_w += w
            elif _CART_ROWS[0] <= y <= _CART_ROWS[1]:
                cart_w += w
        for slot, k in zip(cart_slots, k_cart):
            add(i, slot, cart_w * k)
        # White less the track line, + 0.5 so that the final int() rounds half up (it ends at
        # the right edge of the screen: each output row's steps add up to zero).
        base = k_line * line_w - (255.0 + 0.5) * sy
        add(i, start_slot, base)
        add(i, end_slot, -base)
    # A step of darkness k at column position u (in output columns, J = floor(u)) adds
    # k sx (1 - frac u) to column J and k sx to every column after it. The picture is built as
    # first differences of gray along each output row (one cumsum at the end): the two halves
    # of a step go to columns J and J + 1, scaled by -sx / (sx sy).
    coef = np.asarray(coef) * (-1.0 / sy)
    slot = np.asarray(row_of)[None, :] * (width + 2) + np.arange(2)[:, None]
    half = np.array([_AXLE_HALF_W[int(y - int(AXLE_Y))] for y in axle_rows])

    mat = np.zeros((3, _N_GEO))
    bias = np.zeros(_N_GEO)
    for e in range(4):  # Vector2(corner).rotate_rad(-theta) + (cartx, AXLE_Y)
        for col, (lx, ly) in ((e, POLE_CORNERS[e]), (8 + e, POLE_CORNERS[(e + 1) % 4])):
            mat[:, col], bias[col] = (SCALE, lx, ly), SCREEN_W / 2
            mat[:, col + 4], bias[col + 4] = (0.0, ly, -lx), AXLE_Y
    for col, off in ((16, -CART_HALF_W), (17, CART_HALF_W + 1), (18, 0.0)):
        mat[0, col], bias[col] = SCALE, SCREEN_W / 2 + off
    bias[19], bias[21] = 1.0, SCREEN_W

    # Boundaries on every band row: from the inputs [c_0..3, s_0..3, sign(rise_1), sign(rise_3),
    # axle x, 1] (edge e's line is x = c_e + y s_e), inputs @ lines gives an intercept and a
    # slope per (lo/hi, kind), and the value on row y is intercept + slope y (+ a per-row constant
    # for the axle). "lo" values bound from the left; "hi" values are minus the right boundary
    # (before the sawtooth of _draw adds one pixel). Kinds: 0 the long sides (edge 0 on the left,
    # edge 2 on the right), 1 the top edge at y - 0.5, 2 the bottom edge at y + 0.5 (each on the
    # side it bounds, pushed out of the other), 3 the axle (a0 as lo, -a1 as hi).
    lines = np.zeros((12, 2, 2, 4))  # (input, intercept/slope, lo/hi, kind)
    one, big = 11, _BIG / 2
    lines[0, 0, 0, 0], lines[4, 1, 0, 0] = 1.0, 1.0
    lines[2, 0, 1, 0], lines[6, 1, 1, 0], lines[one, 0, 1, 0] = -1.0, -1.0, -1.0
    for kind, e, sgn, dy in ((1, 1, 8, -0.5), (2, 3, 9, 0.5)):
        lines[e, 0, 0, kind], lines[4 + e, :, 0, kind] = 1.0, (dy, 1.0)
        lines[sgn, 0, 0, kind], lines[one, 0, 0, kind] = big, -big  # up: 0, down: -BIG
        lines[e, 0, 1, kind], lines[4 + e, :, 1, kind] = -1.0, (-dy, -1.0)
        lines[sgn, 0, 1, kind], lines[one, 0, 1, kind] = -big, -1.0 - big  # down: 0, up: -BIG
    lines[10, 0, 0, 3], lines[10, 0, 1, 3] = 1.0, -1.0
    # Boundary columns: the long sides on every band row, then the top edge, the bottom edge
    # and the axle on the rows where they can matter.
    top = band[_TOP_LO - _BAND_LO:]
    bottom = band[:_BOTTOM_HI + 1 - _BAND_LO]
    kind = np.repeat([0, 1, 2, 3], [n_band, len(top), len(bottom), n_axle])
    row = np.concatenate([band, top, bottom, axle_rows]).astype(np.float64)
    row_const = np.zeros((2, len(kind)))
    row_const[0, -n_axle:], row_const[1, -n_axle:] = -half, -half - 1.0

    if backend == "numpy":
        t = lambda a, dtype=np.float64: np.ascontiguousarray(a, dtype=dtype)  # noqa: E731
        long, f32 = np.int64, np.float32
    else:
        t = lambda a, dtype=torch.float64: torch.as_tensor(  # noqa: E731
            np.ascontiguousarray(a), dtype=dtype, device=backend)
        long, f32 = torch.long, torch.float32
    return _Plan(
        height=height, width=width, inv_sx=1.0 / sx, n_band=n_band, n_top=len(top),
        n_bottom=len(bottom), axle=slice(_AXLE_ROWS[0] - _BAND_LO, _AXLE_ROWS[1] + 1 - _BAND_LO),
        mat=t(mat), bias=t(bias), flat_tilt=t(_FLAT_TILT), lines=t(lines.reshape(12, 16)),
        kind=t(kind, long), row=t(row), row_const=t(row_const), gather=t(gather, long),
        coef0=t(coef * np.array([[1.0], [0.0]]), f32),
        coefd=t(coef * np.array([[-1.0], [1.0]]), f32),
        slot=t(slot), per_n={},
    )


def _draw(xp, p: _Plan, s):
    """The fast renderer on (N, 4) float64 states, with xp = numpy or torch (same calls)."""
    n, height, width, r = s.shape[0], p.height, p.width, p.n_band
    th = _clip(s[:, 2], -_THETA_MAX, _THETA_MAX)
    v = xp.trunc(_dot(xp.stack([s[:, 0], xp.cos(th), xp.sin(th)], 1), p.mat) + p.bias)

    # Pole boundaries on the band rows and the axle's (see _plan). For the long sides crossing
    # row y at X, the left boundary is min(X, round(X)) and the right one 1 + max(X,
    # ceil(X - 0.5)), i.e. minus the same sawtooth of -(X + 1).
    d = v[:, 8:16] - v[:, 0:8]
    rise = d[:, 4:] + (d[:, 4:] == 0) * p.flat_tilt
    slope = d[:, :4] / rise
    inputs = xp.concatenate([v[:, 0:4] - v[:, 4:8] * slope, slope, xp.sign(rise[:, 1::2]),
                             v[:, 18:20]], 1)
    line = _dot(inputs, p.lines).reshape(n, 2, 2, 4)[:, :, :, p.kind]  # (N, I/S, lo/hi, C)
    z = line[:, 0] + line[:, 1] * p.row + p.row_const  # (N, lo/hi, C)
    pole = z[:, :, :r]  # (N, 2, R): left, -right
    pole[:] = xp.minimum(pole, xp.floor(pole + 0.5))
    at = r + p.n_top
    pole[:, :, r - p.n_top:] = xp.maximum(pole[:, :, r - p.n_top:], z[:, :, r:at])
    pole[:, :, :p.n_bottom] = xp.maximum(pole[:, :, :p.n_bottom], z[:, :, at:at + p.n_bottom])
    axle = z[:, :, at + p.n_bottom:]  # a0, -a1
    under = xp.maximum(pole[:, :, p.axle], axle)  # max(left, a0), -min(right, a1)
    steps = xp.concatenate([pole[:, 0], xp.maximum(pole[:, 0], -pole[:, 1]), axle[:, 0],
                            -axle[:, 1], under[:, 0], xp.maximum(under[:, 0], -under[:, 1]),
                            v[:, 16:22]], 1)

    # Integrate the steps over output columns (see _plan), then a cumulative sum along rows.
    cached = p.per_n.get(n)
    if cached is None:
        if len(p.per_n) >= 8:  # a few batch sizes are in use at a time
            p.per_n.clear()
        env = xp.arange(n).reshape(n, 1)
        if xp is torch:
            env = env.to(p.slot.device)
        cached = p.per_n[n] = (env * steps.shape[1] + p.gather,
                               p.slot + (env * (height * (width + 2.0))).reshape(n, 1, 1))
    take, flat = cached
    # float32 from here: positions to ~1e-4 px, gray levels to ~1e-4
    pos = _clip(xp.take(_f32(steps), take) * p.inv_sx, 0, width)  # (N, M) in output columns
    col = xp.floor(pos)
    vals = p.coef0 + (pos - col).reshape(n, 1, -1) * p.coefd  # (N, 2, M)
    idx = torch.as_tensor(_as_long(flat + col.reshape(n, 1, -1))).view(-1)
    out = torch.zeros(n * height * (width + 2), dtype=torch.float32, device=idx.device)
    out.scatter_add_(0, idx, torch.as_tensor(vals).view(-1))
    out = out.view(n, height, width + 2).cumsum(2)[:, :, :width]
    return out.to(torch.uint8)  # gray + 0.5 lies in [0, 256): int() rounds half up


def _dot(a, b):
    """a @ b for a small b. numpy's BLAS only for sizes it runs on one thread (its threads
    fight torch's for the CPU)."""
    if torch.is_tensor(a) or a.shape[0] * b.size < 65536:
        return a @ b
    return (a[:, :, None] * b).sum(1)


def _f32(a):
    return a.float() if torch.is_tensor(a) else a.astype(np.float32)


def _clip(a, lo, hi):
    """np.clip has a large fixed cost per call; the same with two ufuncs."""
    return a.clamp(lo, hi) if torch.is_tensor(a) else np.minimum(np.maximum(a, lo), hi)


def _as_long(a):
    return a.long() if torch.is_tensor(a) else a.astype(np.int64)


def render_states(states: torch.Tensor, height: int = DEFAULT_HEIGHT,
                  width: int = DEFAULT_WIDTH) -> torch.Tensor:
    """CartPole states (N, 4) [x, x_dot, theta, theta_dot] -> gray pictures (N, H, W) uint8.

    The result is on ``states.device``. One batch of array operations, no per-state Python loop:
    numpy on the CPU (less overhead per call than torch at small N), torch on other devices.
    Matches GymRenderer to a few gray levels (compare_renderers). Models pygame's drawing for
    |theta| <= 0.5 rad (theta is clipped there; an episode ends by ~0.3).
    """
    height, width = check_resolution(height, width)
    if states.ndim != 2 or states.shape[1] != 4:
        raise ValueError(f"states shape {tuple(states.shape)} is not (N, 4)")
    if states.shape[0] == 0:
        return torch.zeros((0, height, width), dtype=torch.uint8, device=states.device)
    if states.device.type == "cpu":
        s = states.detach().to(torch.float64).numpy()
        return _draw(np, _plan(height, width, "numpy"), s)
    s = states.detach().to(torch.float64)
    return _draw(torch, _plan(height, width, states.device), s)


# ----------------------------------------------------------------------------------------------
# Figures


def random_valid_states(n: int, seed: int = 0, x_max: float = X_THRESHOLD,
                        theta_max: float = 12 * 2 * math.pi / 360) -> np.ndarray:
    """(n, 4) float64 states, x and theta uniform in the valid (non-terminal) box."""
    rng = np.random.default_rng(seed)
    s = rng.uniform(-1.0, 1.0, size=(n, 4))
    s[:, 0] *= x_max
    s[:, 2] *= theta_max
    return s


def compare_renderers(n_states: int = 1000, seed: int = 0, height: int = DEFAULT_HEIGHT,
                      width: int = DEFAULT_WIDTH, states: np.ndarray | None = None) -> dict:
    """Fidelity of render_states against the gymnasium picture over random valid states.

    Returns mean |fast - gym| over all pixels and states (fraction of 255), the largest
    per-state mean, the largest single-pixel difference (gray levels) and the worst state.
    """
    height, width = check_resolution(height, width)
    if states is None:
        states = random_valid_states(n_states, seed)
    states = np.asarray(states, dtype=np.float64)
    gym = GymRenderer(height, width)
    try:
        ref = gym(states).astype(np.int16)
    finally:
        gym.close()
    fast = render_states(torch.as_tensor(states), height, width).numpy().astype(np.int16)
    diff = np.abs(fast - ref)
    per_state = diff.reshape(len(states), -1).mean(1)
    per_state_max = diff.reshape(len(states), -1).max(1)
    worst = int(per_state.argmax())
    return {
        "states": len(states), "seed": seed, "height": height, "width": width,
        "mean_abs_diff_frac": float(diff.mean() / 255),
        "max_state_mean_abs_diff_frac": float(per_state.max() / 255),
        "max_pixel_abs_diff": int(diff.max()),
        "mean_state_max_pixel_abs_diff": float(per_state_max.mean()),
        "frac_pixels_equal": float((diff == 0).mean()),
        "worst_state_index": worst,
        "worst_state": [round(float(v), 6) for v in states[worst]],
    }


def _best_time(fn, min_seconds: float, sync=lambda: None) -> float:
    """Seconds per call: one warm-up call, then the fastest of a few timed batches of calls."""
    fn()
    sync()
    best = math.inf
    deadline = time.perf_counter() + min_seconds
    while True:
        calls, start = 0, time.perf_counter()
        while calls == 0 or time.perf_counter() - start < min_seconds / 5:
            fn()
            calls += 1
        sync()
        best = min(best, (time.perf_counter() - start) / calls)
        if time.perf_counter() >= deadline:
            return best


def time_renderers(num_envs=(8, 256), height: int = DEFAULT_HEIGHT, width: int = DEFAULT_WIDTH,
                   device: str = "cpu", seed: int = 0, min_seconds: float = 2.0,
                   threads: int | None = 1) -> dict:
    """Frames per second of render_states (on ``device``) and of the gymnasium path, per N.

    Each figure is the best of several timed batches, so that other load on the machine counts
    less; the gymnasium path includes converting its picture (frame_from_rgb). torch runs on
    ``threads`` CPU threads meanwhile (None: leave the setting alone).
    """
    height, width = check_resolution(height, width)
    dev = torch.device(device)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    gym = GymRenderer(height, width)
    out = {"device": str(dev), "torch_threads": torch.get_num_threads(), "height": height,
           "width": width}
    try:
        for n in num_envs:
            states = random_valid_states(n, seed)
            st = torch.as_tensor(states, device=dev)
            fast_s = _best_time(lambda: render_states(st, height, width), min_seconds, sync)
            gym_s = _best_time(lambda: gym(states), min_seconds)
            out[f"fast_fps_n{n}"] = n / fast_s
            out[f"gym_fps_n{n}"] = n / gym_s
            out[f"ratio_n{n}"] = gym_s / fast_s
    finally:
        gym.close()
        torch.set_num_threads(before)
    return out
