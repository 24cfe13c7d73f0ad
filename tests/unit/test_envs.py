"""Pixel CartPole envs: gymnasium's physics, frame stacks, episode ends, seeding, checkpoints."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode

import jepa_bench  # noqa: F401  (registers the env)
from jepa_bench.rl.envs import (ENV_ID, MAX_EPISODE_STEPS, PixelCartPoleEnv, PixelCartPoleVectorEnv,
                             cartpole_step, is_terminal)
from jepa_bench.rl.render import render_states


def frame(state) -> np.ndarray:
    """The fast renderer's frame of one state."""
    return render_states(torch.as_tensor(np.asarray(state, np.float64)).reshape(1, 4))[0].numpy()


def lean_right(n):
    return np.ones(n, dtype=np.int64)  # pushing right every step ends an episode in ~10 steps


# -- physics -----------------------------------------------------------------------------------

def test_single_env_is_gymnasium_cartpole_step_for_step():
    env = gym.make(ENV_ID)
    ref = gym.make("CartPole-v1")
    rng = np.random.default_rng(0)
    for episode in range(3):
        _, info = env.reset(seed=10 + episode)
        ref.reset(seed=10 + episode)
        assert np.array_equal(info["state"], ref.unwrapped.state)
        for _ in range(MAX_EPISODE_STEPS):
            a = int(rng.integers(2))
            _, r, term, trunc, info = env.step(a)
            _, rr, rterm, rtrunc, _ = ref.step(a)
            assert np.array_equal(info["state"], ref.unwrapped.state)  # bit for bit
            assert (r, term, trunc) == (rr, rterm, rtrunc)
            if term or trunc:
                break


def test_batched_step_is_gymnasium_step():
    rng = np.random.default_rng(1)
    states = np.column_stack([rng.uniform(-2.4, 2.4, 200), rng.normal(0, 2, 200),
                              rng.uniform(-0.2, 0.2, 200), rng.normal(0, 2, 200)])
    actions = rng.integers(0, 2, 200)
    ours = cartpole_step(torch.as_tensor(states), torch.as_tensor(actions)).numpy()
    ref = CartPoleEnv()
    for s, a, o in zip(states, actions, ours):
        ref.state, ref.steps_beyond_terminated = s.copy(), None
        ref.step(int(a))
        np.testing.assert_allclose(o, ref.state, rtol=0, atol=1e-12)
    term = is_terminal(torch.as_tensor(ours)).numpy()
    expected = (np.abs(ours[:, 0]) > 2.4) | (np.abs(ours[:, 2]) > 12 * np.pi / 180)
    assert np.array_equal(term, expected)


def test_torch_physics_used_off_the_cpu_matches_the_numpy_one():
    from jepa_bench.rl.envs import _euler
    rng = np.random.default_rng(2)
    states = torch.as_tensor(rng.normal(0, 1, (50, 4)))
    actions = torch.as_tensor(rng.integers(0, 2, 50))
    out = _euler(torch, states, (actions == 1).to(torch.float64))
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, cartpole_step(states, actions), rtol=0, atol=1e-12)


def test_vector_env_initial_states_are_gymnasium_resets():
    envs = PixelCartPoleVectorEnv(num_envs=4)
    _, info = envs.reset(seed=7)
    for i in range(4):
        ref = CartPoleEnv()
        ref.reset(seed=7 + i)
        assert np.array_equal(info["state"][i], ref.state)
    _, info = envs.reset(seed=[3, 1, 4, 1])
    assert np.array_equal(info["state"][1], info["state"][3])


# -- observations --------------------------------------------------------------------------------

def test_shapes_dtypes_and_spaces():
    env = gym.make(ENV_ID, height=12, width=48)
    obs, info = env.reset(seed=0)
    assert obs.shape == (3, 12, 48) and obs.dtype == np.uint8 and obs in env.observation_space
    assert info["state"].shape == (4,) and info["state"].dtype == np.float64
    obs, r, term, trunc, info = env.step(0)
    assert obs in env.observation_space and isinstance(r, float)
    assert isinstance(term, bool) and isinstance(trunc, bool)

    envs = PixelCartPoleVectorEnv(num_envs=3)
    obs, info = envs.reset(seed=0)
    assert obs.shape == (3, 3, 24, 96) and obs.dtype == np.uint8 and obs in envs.observation_space
    obs, r, term, trunc, info = envs.step(np.array([0, 1, 0]))
    assert r.dtype == np.float32 and term.dtype == np.bool_ and trunc.dtype == np.bool_
    assert info["state"].shape == (3, 4) and info["final_obs"].shape == (3, 3, 24, 96)
    assert info["_final_obs"].dtype == np.bool_

    envs = PixelCartPoleVectorEnv(num_envs=2, array_type="torch")
    obs, info = envs.reset(seed=0)
    obs, r, term, trunc, info = envs.step(torch.tensor([1, 0]))
    assert obs.dtype == torch.uint8 and r.dtype == torch.float32 and term.dtype == torch.bool
    assert info["state"].dtype == torch.float64 and torch.is_tensor(info["final_obs"])


def test_frame_stack_shifts_oldest_first():
    env = PixelCartPoleEnv()
    obs, info = env.reset(seed=1)
    assert (obs == frame(info["state"])).all()  # three copies of the first frame
    for a in (1, 1, 0, 1):
        prev = obs
        obs, *_, info = env.step(a)
        assert np.array_equal(obs[:2], prev[1:])
        assert np.array_equal(obs[2], frame(info["state"]))

    envs = PixelCartPoleVectorEnv(num_envs=3)
    obs, info = envs.reset(seed=1)
    prev = obs
    obs, *_, info = envs.step(np.array([1, 0, 1]))
    assert np.array_equal(obs[:, :2], prev[:, 1:])
    assert np.array_equal(obs[:, 2], render_states(torch.as_tensor(info["state"])).numpy())


# -- episode ends ----------------------------------------------------------------------------------

def test_single_env_terminal_step_returns_the_true_final_frame():
    env = PixelCartPoleEnv()
    obs, info = env.reset(seed=2)
    term = False
    while not term:
        prev = obs
        obs, _, term, trunc, info = env.step(1)
        assert not trunc
    assert is_terminal(torch.as_tensor(info["state"]))
    assert np.array_equal(obs[:2], prev[1:]) and np.array_equal(obs[2], frame(info["state"]))
    obs, info = env.reset()
    assert (obs == frame(info["state"])).all()


def test_vector_env_autoresets_in_the_same_step_with_final_obs():
    n, seed = 3, 11
    envs = PixelCartPoleVectorEnv(num_envs=n)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    obs, info = envs.reset(seed=seed)
    rngs = [seeding.np_random(seed + i)[0] for i in range(n)]
    for r in rngs:
        r.uniform(-0.05, 0.05, size=(4,))  # the reset draw
    actions = np.array([1, 1, 0])  # env 2 gets a different episode length
    resets = np.zeros(n, int)
    for _ in range(200):
        prev, prev_state = obs, info["state"]
        obs, rew, term, trunc, info = envs.step(actions)
        done = term | trunc
        assert np.array_equal(info["_final_obs"], done)
        assert (rew == 1).all()
        for i in range(n):
            if not done[i]:
                assert np.array_equal(obs[i, :2], prev[i, 1:])
                assert np.array_equal(info["state"][i],
                                      cartpole_step(torch.as_tensor(prev_state[i:i + 1]),
                                                    torch.as_tensor(actions[i:i + 1]))[0].numpy())
                continue
            final_state = info["final_state"][i]
            assert is_terminal(torch.as_tensor(final_state))
            # the JEPA target of this step: (f_{t-1}, f_t, f_{t+1}) of the episode that ended
            assert np.array_equal(info["final_obs"][i, :2], prev[i, 1:])
            assert np.array_equal(info["final_obs"][i, 2], frame(final_state))
            # the returned obs is the next episode's first, drawn from env i's own generator
            fresh = rngs[i].uniform(-0.05, 0.05, size=(4,))
            assert np.array_equal(info["state"][i], fresh)
            assert (obs[i] == frame(fresh)).all()
        resets += done
        if (resets >= 2).all():
            break
    else:
        pytest.fail(f"episodes did not end twice in every env: {resets}")


def test_truncation_at_500_steps():
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    env.unwrapped._elapsed = MAX_EPISODE_STEPS - 2
    assert env.step(0)[3] is False
    obs, _, term, trunc, info = env.step(1)
    assert trunc is True and term is False

    envs = PixelCartPoleVectorEnv(num_envs=2)
    envs.reset(seed=0)
    saved = envs.get_state()
    saved["elapsed"] = torch.tensor([MAX_EPISODE_STEPS - 1, 3])
    envs.set_state(saved)
    obs, _, term, trunc, info = envs.step(np.array([0, 1]))
    assert trunc.tolist() == [True, False] and not term.any()
    assert info["_final_obs"].tolist() == [True, False]
    assert np.array_equal(info["final_obs"][0, 2], frame(info["final_state"][0]))
    assert envs.get_state()["elapsed"].tolist() == [0, 4]


# -- seeding, registration, checkpoints --------------------------------------------------------

def rollout(envs, steps, seed=None):
    out = []
    if seed is not None:
        out.append(envs.reset(seed=seed)[0])
    rng = np.random.default_rng(0)
    for _ in range(steps):
        obs, rew, term, trunc, info = envs.step(rng.integers(0, 2, envs.num_envs))
        out += [obs, term, trunc, info["state"], info["final_obs"]]
    return out


def test_seeding_same_seed_same_frames_different_seed_differs():
    a = rollout(PixelCartPoleVectorEnv(num_envs=4), 40, seed=3)
    b = rollout(PixelCartPoleVectorEnv(num_envs=4), 40, seed=3)
    c = rollout(PixelCartPoleVectorEnv(num_envs=4), 40, seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    e1, e2 = PixelCartPoleEnv(), PixelCartPoleEnv()
    assert np.array_equal(e1.reset(seed=5)[0], e2.reset(seed=5)[0])
    assert not np.array_equal(e1.reset(seed=5)[1]["state"], e2.reset(seed=6)[1]["state"])


def test_gymnasium_env_checker_passes():
    from gymnasium.utils.env_checker import check_env
    check_env(PixelCartPoleEnv(), skip_render_check=True)


def test_make_and_make_vec():
    env = gym.make(ENV_ID, renderer="gym", height=12, width=48)
    assert isinstance(env.unwrapped, PixelCartPoleEnv) and env.unwrapped.renderer == "gym"
    assert env.reset(seed=0)[0].shape == (3, 12, 48)
    envs = gym.make_vec(ENV_ID, num_envs=5, height=12, width=48)
    assert isinstance(envs, PixelCartPoleVectorEnv) and envs.num_envs == 5
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (5, 3, 12, 48)
    envs.close()


def test_gym_renderer_env_matches_fast_renderer_env():
    fast = PixelCartPoleVectorEnv(num_envs=2, renderer="fast")
    ref = PixelCartPoleVectorEnv(num_envs=2, renderer="gym")
    a, b = rollout(fast, 5, seed=9), rollout(ref, 5, seed=9)
    for x, y in zip(a, b):
        if x.dtype == np.uint8:
            assert np.abs(x.astype(int) - y.astype(int)).max() <= 16
        else:
            assert np.array_equal(x, y)
    ref.close()


def test_get_state_set_state_continues_bit_identically():
    envs = PixelCartPoleVectorEnv(num_envs=4, array_type="torch")
    rollout(envs, 23, seed=1)  # part-way through episodes, some already reset
    saved = envs.get_state()
    torch.manual_seed(0)
    first = rollout(envs, 60)  # 60 steps of pushing at random: several autoresets
    restored = PixelCartPoleVectorEnv(num_envs=4, array_type="torch")
    restored.reset(seed=123)  # a different history, overwritten by set_state
    restored.set_state(saved)
    second = rollout(restored, 60)
    assert all(torch.equal(x, y) for x, y in zip(first, second))
    envs.set_state(saved)  # back in time on the same object
    assert all(torch.equal(x, y) for x, y in zip(first, rollout(envs, 60)))


def test_set_state_rejects_another_shape():
    saved = PixelCartPoleVectorEnv(num_envs=2).get_state()
    with pytest.raises(ValueError, match="num_envs"):
        PixelCartPoleVectorEnv(num_envs=3).set_state(saved)


# -- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,name", [
    (dict(renderer="pygame"), "renderer='pygame'"), (dict(renderer=None), "renderer=None"),
    (dict(height=0), "height=0"), (dict(width=601), "width=601"),
    (dict(height=151), "height=151"), (dict(width=9.5), "width=9.5"),
])
def test_bad_env_arguments_fail_at_construction(kwargs, name):
    for make in (PixelCartPoleEnv, PixelCartPoleVectorEnv):
        with pytest.raises(ValueError) as err:
            make(**kwargs)
        assert name in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("num_envs", [0, -2, 2.5, True, "4"])
def test_bad_num_envs(num_envs):
    with pytest.raises(ValueError, match="num_envs="):
        PixelCartPoleVectorEnv(num_envs=num_envs)
    with pytest.raises(ValueError, match="num_envs="):
        gym.make_vec(ENV_ID, num_envs=num_envs)


def test_bad_array_type_actions_and_order():
    with pytest.raises(ValueError, match="array_type='jax'"):
        PixelCartPoleVectorEnv(num_envs=2, array_type="jax")
    envs = PixelCartPoleVectorEnv(num_envs=2)
    with pytest.raises(RuntimeError, match="reset"):
        envs.step(np.array([0, 1]))
    envs.reset(seed=0)
    for bad in (np.array([0, 2]), np.array([0]), np.array([0.0, 1.0]), np.array([-1, 0])):
        with pytest.raises(ValueError, match="actions"):
            envs.step(bad)
    env = PixelCartPoleEnv()
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action=2"):
        env.step(2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_vector_env_on_cuda_matches_cpu():
    gpu = PixelCartPoleVectorEnv(num_envs=4, device="cuda", array_type="torch")
    cpu = PixelCartPoleVectorEnv(num_envs=4, array_type="torch")
    for x, y in zip(rollout(gpu, 30, seed=2), rollout(cpu, 30, seed=2)):
        assert x.device.type == "cuda"
        if x.dtype == torch.uint8:
            assert (x.cpu().int() - y.int()).abs().max() <= 1
        elif x.dtype == torch.bool:
            assert torch.equal(x.cpu(), y)
        else:
            assert torch.allclose(x.cpu(), y, atol=1e-9)


def test_render_mode_rgb_array_returns_the_agents_frame():
    """gym.make(..., render_mode="rgb_array"): render() gives the newest frame as (H, W, 3)."""
    import gymnasium as gym

    env = gym.make("jepa_bench/PixelCartPole-v1", render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(1)
    frame = env.render()
    assert frame.shape == obs.shape[1:] + (3,) and frame.dtype == np.uint8
    assert all((frame[..., c] == obs[-1]).all() for c in range(3))
    envs = gym.make_vec("jepa_bench/PixelCartPole-v1", num_envs=2, render_mode="rgb_array")
    obs, _ = envs.reset(seed=0)
    frames = envs.render()
    assert len(frames) == 2 and (frames[1][..., 0] == obs[1, -1]).all()
    assert PixelCartPoleEnv().render() is None  # no render_mode: nothing to render
