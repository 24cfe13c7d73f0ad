"""The picture format, the crop bounds, and the fast renderer against gymnasium's own picture."""

import math

import numpy as np
import pytest
import torch

from jepa_bench.rl.render import (CROP_HEIGHT, CROP_TOP, DEFAULT_HEIGHT, DEFAULT_WIDTH, SCALE,
                               SCREEN_H, SCREEN_W, area_matrix, check_resolution,
                               compare_renderers, frame_from_rgb, luma, random_valid_states,
                               render_states)

THETA_MAX = 12 * 2 * math.pi / 360

# Cart centred and at both track edges; pole upright, at the highest-reaching angle
# (atan(5/120)), at +-12 degrees and past them as in terminal frames.
X_CASES = (0.0, 0.7, -2.4, 2.4, -2.45, 2.45)
THETA_CASES = (0.0, math.atan(5 / 120), -THETA_MAX, THETA_MAX, -0.28, 0.28)
FIXED_STATES = np.array([[x, 0.0, th, 0.0] for x in X_CASES for th in THETA_CASES])


def fast(states, height=DEFAULT_HEIGHT, width=DEFAULT_WIDTH) -> np.ndarray:
    return render_states(torch.as_tensor(np.asarray(states, np.float64)), height, width).numpy()


def test_crop_holds_the_whole_scene_with_white_margins(gym_renderer):
    frames = np.stack([gym_renderer.frame(s) for s in FIXED_STATES])
    drawn = np.nonzero((frames != 255).any(axis=(0, 2, 3)))[0]
    top, bottom = drawn.min(), drawn.max()
    assert top == SCREEN_H - 1 - 227  # the pole never reaches above surface row 227
    assert bottom == SCREEN_H - 1 - 85  # cart bottom
    assert CROP_TOP + 3 <= top and bottom <= CROP_TOP + CROP_HEIGHT - 4  # >= 3 white rows each side


def test_frame_from_rgb_is_luma_then_exact_area_average():
    rgb = np.full((SCREEN_H, SCREEN_W, 3), 255, np.uint8)
    rgb[CROP_TOP, 0] = (202, 152, 101)  # one pole-coloured pixel in the crop's first row
    rgb[CROP_TOP - 1] = 0  # a black row just above the crop is ignored
    out = frame_from_rgb(rgb)
    assert out.shape == (DEFAULT_HEIGHT, DEFAULT_WIDTH) and out.dtype == np.uint8
    expected = 255 - (255 - luma((202, 152, 101))) / (6.25 * 6.25)
    assert out[0, 0] == round(expected)
    assert (out.ravel()[1:] == 255).all()
    m = area_matrix(600, 96)
    assert np.allclose(m.sum(1), 1.0) and np.allclose(m.sum(0), 96 / 600)


@pytest.mark.parametrize("state", FIXED_STATES.tolist(),
                         ids=[f"x{x:+.2f}_th{t:+.3f}" for x, _, t, _ in FIXED_STATES])
def test_fast_geometry_matches_gymnasium_at_fixed_states(gym_renderer, state):
    ref = gym_renderer(np.array([state]))[0].astype(int)
    out = fast([state])[0].astype(int)
    diff = np.abs(out - ref)
    # a misplaced cart, axle or pole would differ by tens of gray levels over many pixels
    assert diff.max() <= 12, diff.max()
    assert diff.mean() <= 0.1

    def centroid(img, rows):
        ink = (255.0 - img[rows]).sum(0)
        return (ink * np.arange(img.shape[1])).sum() / max(ink.sum(), 1e-9)

    cart_rows, pole_rows = slice(21, 24), slice(0, 17)
    for rows in (cart_rows, pole_rows):
        assert abs(centroid(out, rows) - centroid(ref, rows)) < 0.05
    # where the pole tip is: the darkness profile of the top rows
    assert np.abs(out[:3] - ref[:3]).sum() <= 40


def ink_centre(img: np.ndarray, rows) -> float:
    """Darkness-weighted mean x of some output rows, in native pixels."""
    ink = (255.0 - img[rows].astype(float)).sum(0)
    centre = (ink * (np.arange(img.shape[1]) + 0.5)).sum() / ink.sum()
    return float(centre * SCREEN_W / img.shape[1])


@pytest.mark.parametrize("x", [0.0, 0.3, -1.7])
@pytest.mark.parametrize("theta", [0.0, 0.1, -THETA_MAX])
def test_cart_centre_and_pole_tip_are_where_gymnasium_draws_them(x, theta):
    img = fast([[x, 0.0, theta, 0.0]])[0]
    cartx = x * SCALE + SCREEN_W / 2
    # gymnasium fills the cart's pixel columns int(cartx - 25) .. int(cartx + 25), inclusive
    left, right = int(cartx - 25), int(cartx + 25) + 1
    assert ink_centre(img, slice(22, 24)) == pytest.approx((left + right) / 2, abs=0.3)
    # the pole leans about its pivot (surface y = 107.5); output row 2 holds surface rows
    # 218.5 .. 212.25 (int() of the corners and the inclusive fill shift it by < 1 px)
    y_mid = 231.5 - 2.5 * 6.25
    axis = cartx + (y_mid - 107.5) * math.tan(theta)
    assert ink_centre(img, slice(2, 3)) == pytest.approx(axis, abs=1.0)
    # its top edge is at surface y = 107.5 + 120 cos theta
    top_rows = np.nonzero((img < 250).any(1))[0]
    tip_y = 107.5 + 120 * math.cos(theta)
    assert top_rows.min() == int((231.5 - tip_y) // 6.25)


def test_fast_matches_gymnasium_over_random_states():
    fid = compare_renderers(n_states=200, seed=1)
    assert fid["states"] == 200
    assert fid["mean_abs_diff_frac"] < 0.001  # requirement: <= 0.02
    assert fid["max_state_mean_abs_diff_frac"] < 0.002
    assert fid["max_pixel_abs_diff"] <= 16  # a pole drawn wrong would be off by ~90 levels


def test_fast_matches_gymnasium_past_the_thresholds():
    # terminal frames: one step past |x| = 2.4 or |theta| = 12 degrees
    rng = np.random.default_rng(5)
    n = 60
    states = np.zeros((n, 4))
    states[:, 0] = rng.uniform(-2.5, 2.5, n)
    states[:, 2] = rng.choice([-1, 1], n) * rng.uniform(THETA_MAX, 0.3, n)
    fid = compare_renderers(states=states)
    assert fid["mean_abs_diff_frac"] < 0.001
    assert fid["max_pixel_abs_diff"] <= 16


@pytest.mark.parametrize("height,width", [(12, 48), (30, 100), (7, 600), (150, 600)])
def test_other_resolutions(height, width):
    fid = compare_renderers(n_states=20, seed=2, height=height, width=width)
    assert fid["mean_abs_diff_frac"] < 0.002
    if height <= 30:
        assert fid["max_pixel_abs_diff"] <= 24


def test_render_states_shapes_dtype_device_and_batch_independence():
    states = torch.as_tensor(random_valid_states(5, seed=3))
    out = render_states(states)
    assert out.shape == (5, DEFAULT_HEIGHT, DEFAULT_WIDTH)
    assert out.dtype == torch.uint8 and out.device == states.device
    alone = torch.cat([render_states(states[i:i + 1]) for i in range(5)])
    assert torch.equal(out, alone)
    assert torch.equal(render_states(states.float()), render_states(states.float()))
    assert render_states(states[:0]).shape == (0, DEFAULT_HEIGHT, DEFAULT_WIDTH)
    assert render_states(states, 10, 40).shape == (5, 10, 40)


def test_torch_code_path_used_off_the_cpu_matches_the_numpy_one():
    # render_states runs numpy on the CPU and torch elsewhere; the torch path runs on CPU here
    from jepa_bench.rl.render import _draw, _plan
    states = random_valid_states(100, seed=8)
    for height, width in ((24, 96), (13, 77)):
        ref = render_states(torch.as_tensor(states), height, width)
        out = _draw(torch, _plan(height, width, torch.device("cpu")), torch.as_tensor(states))
        assert out.dtype == torch.uint8 and torch.equal(out, ref)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_render_states_on_cuda_matches_cpu():
    states = torch.as_tensor(random_valid_states(64, seed=4))
    out = render_states(states.cuda())
    assert out.device.type == "cuda"
    assert (out.cpu().int() - render_states(states).int()).abs().max() <= 1


@pytest.mark.parametrize("height,width", [(0, 96), (-3, 96), (151, 96), (24, 0), (24, 601),
                                          (24.0, 96), (True, 96), ("24", 96), (None, 96)])
def test_bad_resolution_is_a_one_line_value_error(height, width):
    with pytest.raises(ValueError) as err:
        check_resolution(height, width)
    msg = str(err.value)
    assert "\n" not in msg and ("height=" in msg or "width=" in msg)
    assert repr(height) in msg or repr(width) in msg
    with pytest.raises(ValueError):
        render_states(torch.zeros(1, 4), height, width)


def test_bad_states_shape():
    with pytest.raises(ValueError, match=r"not \(N, 4\)"):
        render_states(torch.zeros(4))
