import math

import pytest
import torch
from torch import nn

from jepa_bench.rl.ppo import ActorCritic, compute_gae, explained_variance, layer_init, ppo_loss


# --- GAE --------------------------------------------------------------------------------------

def test_gae_hand_computed_with_a_truncation_and_a_termination():
    # One env, 4 steps: step 1 is truncated (bootstrap from the final obs's value 4.0, but do
    # not run the recursion into the next episode); step 3 terminates (no bootstrap at all).
    gamma, lam = 0.9, 0.8
    f = dict(dtype=torch.float64)
    rewards = torch.tensor([[1.0], [1.0], [1.0], [1.0]], **f)
    values = torch.tensor([[0.5], [1.0], [1.5], [2.0]], **f)
    next_values = torch.tensor([[1.0], [4.0], [2.0], [7.0]], **f)
    terminated = torch.tensor([[False], [False], [False], [True]])
    dones = torch.tensor([[False], [True], [False], [True]])
    adv, ret = compute_gae(rewards, values, next_values, terminated, dones, gamma, lam)
    # deltas: 1 + .9*1 - .5 = 1.4; 1 + .9*4 - 1 = 3.6; 1 + .9*2 - 1.5 = 1.3; 1 - 2 = -1
    # A3 = -1; A2 = 1.3 + .72*(-1) = .58; A1 = 3.6 (cut); A0 = 1.4 + .72*3.6 = 3.992
    expected = torch.tensor([[3.992], [3.6], [0.58], [-1.0]], **f)
    torch.testing.assert_close(adv, expected)
    torch.testing.assert_close(ret, expected + values)


def test_gae_columns_are_independent_and_special_cases_hold():
    g = torch.Generator().manual_seed(0)
    T, N = 5, 3
    rewards, values, next_values = (torch.randn(T, N, generator=g, dtype=torch.float64)
                                    for _ in range(3))
    no = torch.zeros(T, N, dtype=torch.bool)
    # lam = 0: advantages are the one-step TD errors.
    adv, _ = compute_gae(rewards, values, next_values, no, no, 0.99, 0.0)
    torch.testing.assert_close(adv, rewards + 0.99 * next_values - values)
    # gamma = lam = 1, no episode ends, next_values chained: A_t = sum_{k>=t} r_k + V_T - V_t.
    chained = torch.cat([values[1:], next_values[-1:]])
    adv, ret = compute_gae(rewards, values, chained, no, no, 1.0, 1.0)
    tail_sum = rewards.flip(0).cumsum(0).flip(0)
    torch.testing.assert_close(ret, tail_sum + next_values[-1])
    # Column 1 alone gives the same result as inside the batch.
    adv1, _ = compute_gae(rewards[:, 1:2], values[:, 1:2], chained[:, 1:2], no[:, :1], no[:, :1],
                          1.0, 1.0)
    torch.testing.assert_close(adv1, adv[:, 1:2])


def test_gae_rejects_mismatched_shapes():
    x = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="next_values shape"):
        compute_gae(x, x, torch.zeros(4, 3), x, x, 0.99, 0.95)


# --- PPO loss ---------------------------------------------------------------------------------

def test_ppo_loss_hand_values_without_advantage_normalisation():
    new_lp = torch.log(torch.tensor([0.5, 0.5]))
    old_lp = torch.log(torch.tensor([0.25, 0.5]))  # ratios 2 and 1
    out = ppo_loss(new_lp, old_lp, advantages=torch.tensor([1.0, -1.0]),
                   new_values=torch.tensor([1.0, 2.0]), returns=torch.tensor([0.0, 0.0]),
                   entropy=torch.tensor([0.3, 0.5]), clip_coef=0.2, norm_adv=False)
    # sample 0: max(-1 * 2, -1 * 1.2) = -1.2 (clipped); sample 1: max(1 * 1, 1 * 1) = 1
    assert out["actor_loss"].item() == pytest.approx((-1.2 + 1.0) / 2)
    assert out["critic_loss"].item() == pytest.approx(0.5 * (1.0 + 4.0) / 2)
    assert out["entropy"].item() == pytest.approx(0.4)
    assert out["approx_kl"].item() == pytest.approx(((2 - 1) - math.log(2)) / 2)
    assert out["clip_frac"].item() == pytest.approx(0.5)
    assert all(v.dim() == 0 for v in out.values())


def test_ppo_loss_normalises_advantages_within_the_minibatch():
    lp = torch.log(torch.tensor([0.5, 0.5]))
    out = ppo_loss(lp, torch.log(torch.tensor([0.25, 0.5])), torch.tensor([1.0, 3.0]),
                   torch.zeros(2), torch.zeros(2), torch.zeros(2), clip_coef=0.2)
    a = 1.0 / math.sqrt(2.0)  # [1, 3] standardised with the sample std sqrt(2): [-a, a]
    # sample 0 (ratio 2, A = -a): max(2a, 1.2a) = 2a; sample 1 (ratio 1, A = a): -a
    assert out["actor_loss"].item() == pytest.approx((2 * a - a) / 2, rel=1e-5)


def test_ppo_loss_gradient_flows_only_through_new_logprob_and_values():
    new_lp = torch.tensor([-0.7, -0.6], requires_grad=True)
    values = torch.tensor([0.1, 0.2], requires_grad=True)
    out = ppo_loss(new_lp, torch.tensor([-0.7, -0.7]), torch.tensor([1.0, -1.0]), values,
                   torch.tensor([1.0, 1.0]), torch.tensor([0.6, 0.6]), 0.2, norm_adv=False)
    assert not out["approx_kl"].requires_grad and not out["clip_frac"].requires_grad
    (out["actor_loss"] + out["critic_loss"]).backward()
    assert new_lp.grad.abs().sum() > 0
    torch.testing.assert_close(values.grad, torch.tensor([-0.45, -0.4]))  # (v - R) / 2


# --- heads ------------------------------------------------------------------------------------

def test_layer_init_is_orthogonal_with_gain_and_constant_bias():
    torch.manual_seed(0)
    layer = layer_init(nn.Linear(8, 8), std=2.0, bias_const=0.5)
    torch.testing.assert_close(layer.weight @ layer.weight.T, 4.0 * torch.eye(8))
    assert torch.equal(layer.bias, torch.full((8,), 0.5))


def test_actor_critic_outputs_and_initial_policy_is_near_uniform():
    torch.manual_seed(0)
    ac = ActorCritic(dim=16, hidden=32, n_actions=2)
    s = torch.randn(64, 16)
    action, logprob, entropy, value = ac.get_action_and_value(s)
    assert action.shape == logprob.shape == entropy.shape == value.shape == (64,)
    assert action.dtype == torch.long and set(action.tolist()) <= {0, 1}
    # Actor output std 0.01 -> logits near 0 -> entropy near log 2.
    assert entropy.min().item() > math.log(2) - 1e-3
    torch.testing.assert_close(value, ac.get_value(s))


def test_actor_critic_scores_given_actions_like_a_categorical():
    torch.manual_seed(0)
    ac = ActorCritic(dim=4, hidden=8, n_actions=3)
    with torch.no_grad():
        ac.actor[-1].weight.normal_()  # make the policy far from uniform
    s, given = torch.randn(10, 4), torch.randint(0, 3, (10,))
    action, logprob, entropy, _ = ac.get_action_and_value(s, given)
    ref = torch.distributions.Categorical(logits=ac.actor(s))
    assert torch.equal(action, given)
    torch.testing.assert_close(logprob, ref.log_prob(given))
    torch.testing.assert_close(entropy, ref.entropy())


def test_sampling_uses_the_torch_global_rng():
    ac = ActorCritic(dim=4, hidden=8)
    s = torch.randn(200, 4)
    torch.manual_seed(3)
    a1 = ac.get_action_and_value(s)[0]
    torch.manual_seed(3)
    assert torch.equal(a1, ac.get_action_and_value(s)[0])


# --- explained variance -----------------------------------------------------------------------

def test_explained_variance():
    y = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert explained_variance(y, y) == pytest.approx(1.0)
    assert explained_variance(torch.full((4,), 2.5), y) == pytest.approx(0.0)
    assert explained_variance(y - 1.0, y) == pytest.approx(1.0)  # a constant offset is ignored
    assert math.isnan(explained_variance(y, torch.ones(4)))
