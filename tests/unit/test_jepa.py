import copy
import math

import pytest
import torch
from torch import nn

from jepa_bench.rl.jepa import (Predictor, effective_rank, ema_update_, embed_variance, jepa_loss,
                             variance_reg)
from jepa_bench.rl.ppo import ActorCritic, ppo_loss
from jepa_bench.rl.vit import ViTEncoder


# --- EMA --------------------------------------------------------------------------------------

class Tiny(nn.Module):
    def __init__(self, w, b, stat):
        super().__init__()
        self.lin = nn.Linear(2, 1)
        self.register_buffer("stat", torch.tensor(stat))
        with torch.no_grad():
            self.lin.weight.copy_(torch.tensor([w]))
            self.lin.bias.copy_(torch.tensor([b]))


def test_ema_update_hand_values():
    target = Tiny([1.0, -1.0], 0.5, [7.0]).requires_grad_(False)
    online = Tiny([3.0, 1.0], -0.5, [9.0])
    ema_update_(target, online, 0.99)
    # 0.99 * target + 0.01 * online
    torch.testing.assert_close(target.lin.weight, torch.tensor([[1.02, -0.98]]))
    torch.testing.assert_close(target.lin.bias, torch.tensor([0.49]))
    assert torch.equal(target.stat, torch.tensor([9.0]))  # buffers are copied
    torch.testing.assert_close(online.lin.weight, torch.tensor([[3.0, 1.0]]))  # online untouched
    assert not any(p.requires_grad for p in target.parameters())


def test_ema_update_momentum_edges():
    target, online = Tiny([1.0, 2.0], 3.0, [0.0]), Tiny([5.0, 6.0], 7.0, [1.0])
    ema_update_(target, online, 1.0)
    assert torch.equal(target.lin.weight, torch.tensor([[1.0, 2.0]]))
    ema_update_(target, online, 0.0)
    assert torch.equal(target.lin.weight, online.lin.weight)
    with pytest.raises(ValueError, match="momentum=1.5"):
        ema_update_(target, online, 1.5)


def test_ema_update_rejects_mismatched_modules():
    with pytest.raises(ValueError, match="different"):
        ema_update_(nn.Linear(2, 1), nn.Sequential(nn.Linear(2, 1)), 0.5)


# --- losses -----------------------------------------------------------------------------------

def test_jepa_loss_hand_value():
    pred = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    target = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    assert jepa_loss(pred, target).item() == pytest.approx((5.0 + 25.0) / 2)
    with pytest.raises(ValueError, match="shape"):
        jepa_loss(pred, target[:1])


def test_variance_reg_hand_value_and_gradient_below_the_clamp():
    s = torch.tensor([[0.0, 0.0], [2.0, 0.0]], requires_grad=True)
    reg = variance_reg(s)
    # Population variances per dimension: 1 and 0 -> mean 0.5. (Sample variance would give 2.)
    assert reg.item() == pytest.approx(-0.5)
    reg.backward()
    # d/ds of -(1/2) * sum_i (1/B) sum_b (s_bi - m_i)^2 with B = 2: -(s_bi - m_i) / 2.
    torch.testing.assert_close(s.grad, torch.tensor([[0.5, 0.0], [-0.5, 0.0]]))


def test_variance_reg_is_exactly_minus_one_with_zero_gradient_above_the_clamp():
    s = torch.tensor([[0.0, 0.0], [4.0, 4.0]], requires_grad=True)  # mean variance 4 > 1
    reg = variance_reg(s)
    assert reg.item() == -1.0
    reg.backward()
    assert torch.equal(s.grad, torch.zeros_like(s))


def test_variance_reg_rejects_a_single_sample():
    with pytest.raises(ValueError, match="B >= 2"):
        variance_reg(torch.zeros(1, 4))


def test_embed_variance_is_the_unclamped_population_variance():
    s = torch.tensor([[0.0, 0.0], [4.0, 2.0]], requires_grad=True)
    v = embed_variance(s)
    assert isinstance(v, float) and v == pytest.approx((4.0 + 1.0) / 2)


# --- effective rank ---------------------------------------------------------------------------

def test_effective_rank_of_rank_one_batch_is_one():
    g = torch.Generator().manual_seed(0)
    u, v = torch.randn(256, 1, generator=g), torch.randn(1, 16, generator=g)
    s = u @ v + 3.0  # the constant offset disappears when the batch is centred
    assert effective_rank(s) == pytest.approx(1.0, abs=1e-4)  # float32 rounding noise


def test_effective_rank_of_orthonormal_centred_columns_is_exactly_d():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 8, generator=g, dtype=torch.float64)
    q, _ = torch.linalg.qr(x - x.mean(0))  # centred columns with equal singular values
    assert effective_rank(5.0 * q) == pytest.approx(8.0, abs=1e-9)


def test_effective_rank_of_isotropic_gaussian_is_close_to_d():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(4096, 64, generator=g)
    assert 60.0 < effective_rank(s) <= 64.0


def test_effective_rank_of_a_constant_batch_is_zero():
    assert effective_rank(torch.ones(10, 4)) == 0.0


# --- predictor --------------------------------------------------------------------------------

def test_predictor_hand_wiring_and_action_path():
    torch.manual_seed(0)
    pred = Predictor(dim=8, hidden=16, n_actions=2)
    s = torch.randn(3, 8)
    out0 = pred(s, torch.zeros(3, dtype=torch.long))
    out1 = pred(s, torch.ones(3, dtype=torch.long))
    assert out0.shape == (3, 8)
    assert (out0 - out1).abs().amax(-1).min() > 1e-4  # different actions -> different outputs
    # The action enters after fc1 and before the GELU as a column of action_proj plus its bias.
    h = pred.fc1(s) + pred.action_proj.weight[:, 1] + pred.action_proj.bias
    torch.testing.assert_close(out1, pred.fc2(torch.nn.functional.gelu(h)))


# --- gradient routing (the J / nabla switches of the paper) -----------------------------------

def _encoder_grads(loss, enc):
    grads = torch.autograd.grad(loss, list(enc.parameters()), retain_graph=True, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, enc.parameters())]


def _total(grads):
    return sum(g.abs().sum().item() for g in grads)


@pytest.mark.parametrize("rl_grad", [False, True])
def test_gradient_routing_between_encoder_heads_and_target(rl_grad):
    torch.manual_seed(0)
    enc = ViTEncoder(height=12, width=24, patch=6, dim=16, depth=1, heads=2)
    target = copy.deepcopy(enc).requires_grad_(False)
    predictor, heads = Predictor(16, 32, 2), ActorCritic(16, 16, 2)
    obs, next_obs = torch.rand(6, 3, 12, 24), torch.rand(6, 3, 12, 24)
    actions = torch.tensor([0, 1, 0, 1, 1, 0])

    s = enc(obs)
    s_rl = s if rl_grad else s.detach()
    _, logprob, entropy, value = heads.get_action_and_value(s_rl, actions)
    ppo = ppo_loss(logprob, logprob.detach() - 0.1, torch.randn(6), value, torch.randn(6),
                   entropy, clip_coef=0.2)
    with torch.no_grad():
        s_y = target(next_obs)
    l_jepa = jepa_loss(predictor(s, actions), s_y)

    actor_g = _total(_encoder_grads(ppo["actor_loss"], enc))
    critic_g = _total(_encoder_grads(ppo["critic_loss"], enc))
    jepa_g = _total(_encoder_grads(l_jepa, enc))
    if rl_grad:
        assert actor_g > 0 and critic_g > 0
    else:
        assert actor_g == 0 and critic_g == 0
    assert jepa_g > 0

    (ppo["actor_loss"] + ppo["critic_loss"] + l_jepa).backward()
    assert all(p.grad is None and not p.requires_grad for p in target.parameters())
    ema_update_(target, enc, 0.99)
    assert not any(p.requires_grad for p in target.parameters())
    assert math.isfinite(l_jepa.item())
