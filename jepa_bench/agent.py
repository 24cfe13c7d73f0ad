"""The ViT-JEPA PPO agent: x-encoder, EMA y-encoder, predictor, actor-critic heads, and the loss
of one minibatch (Eq. 3 of Kenneweg et al. 2025) with the J / ∇ / R switches applied.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from jepa_bench.config import TrainConfig
from jepa_bench.inputs import InputScaling, input_scaling
from jepa_bench.jepa import Predictor, ema_update_, jepa_loss, variance_reg
from jepa_bench.ppo import ActorCritic, a2c_loss, layer_init, ppo_loss
from jepa_bench.vit import ViTEncoder, check_frame_stack

N_ACTIONS = 2
STATE_DIM = 4


class StateEncoder(nn.Module):
    """Two tanh layers over the true 4-d state: the encoder of the 'state' configuration."""

    def __init__(self, dim: int = 64, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(layer_init(nn.Linear(STATE_DIM, hidden)), nn.Tanh(),
                                 layer_init(nn.Linear(hidden, dim)), nn.Tanh())

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs.float())


class ConvEncoder(nn.Module):
    """CleanRL's Atari network (conv 8/4, 4/2, 3/1 of Mnih et al. 2015) scaled down to a
    three-frame 24 x 96 stack: conv 4x4/2 (32), conv 4x4/2 (64), conv 3x3/1 (64), then a ReLU
    linear layer to `dim` (or Linear -> LayerNorm -> tanh with out='ln_tanh'). The encoder of
    the cnn_pixel_ppo control; the input is scaled as for the ViT."""

    def __init__(self, height: int = 24, width: int = 96, frames: int = 3, dim: int = 64,
                 scaling: nn.Module | None = None, out: str = "relu"):
        super().__init__()
        self.frames, self.height, self.width = frames, height, width
        self.scaling = scaling if scaling is not None else InputScaling()
        self.conv = nn.Sequential(
            layer_init(nn.Conv2d(frames, 32, 4, stride=2)), nn.ReLU(),
            layer_init(nn.Conv2d(32, 64, 4, stride=2)), nn.ReLU(),
            layer_init(nn.Conv2d(64, 64, 3, stride=1)), nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = self.conv(torch.zeros(1, frames, height, width)).shape[1]
        if out == "relu":
            self.fc = nn.Sequential(layer_init(nn.Linear(flat, dim)), nn.ReLU())
        elif out == "ln_tanh":
            self.fc = nn.Sequential(layer_init(nn.Linear(flat, dim)), nn.LayerNorm(dim), nn.Tanh())
        else:
            raise ValueError(f"cnn_out={out!r} is not one of: 'relu', 'ln_tanh'")

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        check_frame_stack(obs, self.frames, self.height, self.width)
        return self.fc(self.conv(self.scaling(obs)))


def build_encoder(cfg: TrainConfig) -> nn.Module:
    if cfg.obs_type == "state":
        return StateEncoder(cfg.dim, cfg.state_hidden)
    if cfg.encoder == "cnn":
        return ConvEncoder(height=cfg.height, width=cfg.width, frames=3, dim=cfg.dim,
                           scaling=input_scaling(cfg.obs_norm, cfg.height, cfg.width),
                           out=cfg.cnn_out)
    # 'unit' keeps the ViT's own x / 255 inside patchify (the v1 runs' exact arithmetic)
    scaling = (None if cfg.obs_norm == "unit"
               else input_scaling(cfg.obs_norm, cfg.height, cfg.width))
    return ViTEncoder(height=cfg.height, width=cfg.width, patch=cfg.patch, frames=3, dim=cfg.dim,
                      depth=cfg.depth, heads=cfg.heads, mlp_ratio=cfg.mlp_ratio, scaling=scaling,
                      patch_init=cfg.patch_init)


class JepaAgent(nn.Module):
    """Everything with weights. The y-encoder is a frozen copy moved only by `ema_step`."""

    def __init__(self, cfg: TrainConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = build_encoder(cfg)
        self.target_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
        self.predictor = Predictor(cfg.dim, cfg.pred_hidden, N_ACTIONS)
        self.heads = ActorCritic(cfg.dim, cfg.head_hidden, N_ACTIONS)

    def trainable_parameters(self):
        return [p for p in self.parameters() if p.requires_grad]

    @torch.no_grad()
    def act(self, obs: torch.Tensor):
        """Rollout step: (action, logprob, value, s_x) for a batch of observations."""
        s_x = self.encoder(obs)
        action, logprob, _, value = self.heads.get_action_and_value(s_x)
        return action, logprob, value, s_x

    @torch.no_grad()
    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.heads.get_value(self.encoder(obs))

    @torch.no_grad()
    def ema_step(self) -> None:
        ema_update_(self.target_encoder, self.encoder, self.cfg.ema)


@dataclass
class Minibatch:
    obs: torch.Tensor
    next_obs: torch.Tensor
    actions: torch.Tensor
    logprobs: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor


def target_embedding(agent: JepaAgent, next_obs: torch.Tensor) -> torch.Tensor:
    """s_y: from the EMA y-encoder (no gradient), or from the online encoder itself ('shared',
    gradient flows when J is on; 'shared_sg', under a stop-gradient)."""
    cfg = agent.cfg
    if cfg.target == "ema":
        with torch.no_grad():
            return agent.target_encoder(next_obs)
    s_y = agent.encoder(next_obs)
    return s_y if (cfg.target == "shared" and cfg.jepa) else s_y.detach()


def minibatch_loss(agent: JepaAgent, mb: Minibatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Eq. 3 on one minibatch: L = L_JEPA + L_actor + L_critic (- entropy bonus) + L_reg,
    with J, ∇ and R deciding which terms reach the encoder."""
    cfg = agent.cfg
    s_x = agent.encoder(mb.obs)
    s_rl = s_x if cfg.rl_grad else s_x.detach()
    _, new_logprob, entropy, new_value = agent.heads.get_action_and_value(s_rl, mb.actions)
    if cfg.algo == "a2c":
        ppo = a2c_loss(new_logprob, mb.advantages, new_value, mb.returns, entropy, cfg.norm_adv)
    else:
        ppo = ppo_loss(new_logprob, mb.logprobs, mb.advantages, new_value, mb.returns, entropy,
                       clip_coef=cfg.clip_coef, norm_adv=cfg.norm_adv)
    s_y = target_embedding(agent, mb.next_obs)
    # With J off the predictor still learns, from detached embeddings: a probe that keeps the
    # JEPA-loss curves comparable across configurations without touching the encoder.
    pred = agent.predictor(s_x if cfg.jepa else s_x.detach(), mb.actions)
    l_jepa = jepa_loss(pred, s_y)
    l_reg = variance_reg(s_x)
    loss = (cfg.actor_coef * ppo["actor_loss"] + cfg.critic_coef * ppo["critic_loss"]
            - cfg.ent_coef * ppo["entropy"] + cfg.jepa_coef * l_jepa)
    if cfg.var_reg:
        loss = loss + cfg.reg_coef * l_reg
    stats = {**ppo, "jepa_loss": l_jepa, "reg_loss": l_reg, "loss": loss}
    return loss, stats
