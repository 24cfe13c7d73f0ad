"""The convolutional encoder of the cnn_pixel_ppo control, inside the agent."""

import pytest
import torch

from jepa_bench.rl.agent import ConvEncoder, JepaAgent, Minibatch, build_encoder, minibatch_loss
from jepa_bench.config import resolve
from jepa_bench.rl.vit import ViTEncoder


def test_encoder_choice_follows_the_config():
    assert isinstance(build_encoder(resolve("j0g1r0")), ViTEncoder)
    assert isinstance(build_encoder(resolve("cnn_pixel_ppo")), ConvEncoder)


def test_conv_encoder_shape_scaling_and_bad_input():
    torch.manual_seed(0)
    enc = ConvEncoder(height=24, width=96, frames=3, dim=64)
    frames = torch.randint(0, 256, (5, 3, 24, 96), dtype=torch.uint8)
    out = enc(frames)
    assert out.shape == (5, 64) and out.dtype == torch.float32 and bool((out >= 0).all())
    torch.testing.assert_close(out, enc(frames.float() / 255.0))  # uint8 is scaled to [0, 1]
    with pytest.raises(ValueError, match=r"obs shape \(5, 3, 24, 95\) is not \(B, 3, 24, 96\)"):
        enc(frames[..., :95])


def test_rl_gradients_reach_the_conv_encoder():
    torch.manual_seed(0)
    cfg = resolve("cnn_pixel_ppo", {"num_envs": 2, "num_steps": 4, "num_minibatches": 1})
    agent = JepaAgent(cfg)
    n = 8
    obs = torch.randint(0, 256, (n, 3, cfg.height, cfg.width), dtype=torch.uint8)
    mb = Minibatch(obs=obs, next_obs=obs.roll(1, 0), actions=torch.randint(0, 2, (n,)),
                   logprobs=torch.full((n,), -0.69), advantages=torch.randn(n),
                   returns=torch.randn(n))
    loss, _ = minibatch_loss(agent, mb)
    loss.backward()
    first = agent.encoder.conv[0].weight.grad
    assert first is not None and float(first.abs().sum()) > 0
    assert all(p.grad is None for p in agent.target_encoder.parameters())
