"""The ViT-JEPA PPO agent: x-encoder, EMA y-encoder, predictor, actor-critic heads, and the loss
of one minibatch (Eq. 3 of Kenneweg et al. 2025) with the J / ∇ / R switches applied.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from jepa_bench.config import TrainConfig
from jepa_bench.rl.machine import cpu_bf16_supported
from jepa_bench.rl.inputs import InputScaling, input_scaling
from jepa_bench.rl.jepa import Predictor, ema_update_, jepa_loss, variance_reg
from jepa_bench.rl.ppo import ActorCritic, a2c_loss, layer_init, ppo_loss
from jepa_bench.rl.vit import ViTEncoder, check_frame_stack

N_ACTIONS = 2
STATE_DIM = 4


# --- precision of the encoders in the update (TrainConfig.precision) ----------------------------

def resolve_precision(requested: str, device: torch.device | str = "cpu") -> str:
    """The precision a run uses: 'fp32', or 'bf16' where the device has native bf16 (falls
    back to 'fp32' elsewhere)."""
    if requested == "fp32":
        return "fp32"
    if requested != "bf16":
        raise ValueError(f"precision={requested!r} is not one of: 'fp32', 'bf16'")
    device = torch.device(device)
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device.type == "cpu" and cpu_bf16_supported() else "fp32"


class _Fp32Attention(TorchFunctionMode):
    """Inside bf16 autocast, runs the fused attention kernel in float32: on CPU its bf16
    backward at head width 16 over 49 tokens is ~6x slower than float32 (bench.py)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.scaled_dot_product_attention:
            q, k, v, *rest = args
            with torch.autocast(q.device.type, enabled=False):
                return func(q.float(), k.float(), v.float(), *rest, **kwargs)
        return func(*args, **kwargs)


def encode(agent: "JepaAgent", encoder: nn.Module, obs: torch.Tensor) -> torch.Tensor:
    """encoder(obs) in the update: as is under 'fp32'; under 'bf16', with the encoder's
    matmuls in bf16 autocast (weights stay float32, attention runs in float32) and the
    embedding returned as float32, so losses, gradients' accumulation, Adam and EMA stay
    float32."""
    if agent.precision == "fp32":
        return encoder(obs)
    with torch.autocast(obs.device.type, dtype=torch.bfloat16), _Fp32Attention():
        out = encoder(obs)
    return out.float()


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
        # the update's precision, resolved for the CPU here; Trainer resolves it for its device
        self.precision = resolve_precision(cfg.precision)

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
            return encode(agent, agent.target_encoder, next_obs)
    s_y = encode(agent, agent.encoder, next_obs)
    return s_y if (cfg.target == "shared" and cfg.jepa) else s_y.detach()


def minibatch_loss(agent: JepaAgent, mb: Minibatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Eq. 3 on one minibatch: L = L_JEPA + L_actor + L_critic (- entropy bonus) + L_reg,
    with J, ∇ and R deciding which terms reach the encoder."""
    cfg = agent.cfg
    s_x = encode(agent, agent.encoder, mb.obs)
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
    terms = eq3_terms(cfg, ppo["actor_loss"], ppo["critic_loss"], ppo["entropy"], l_jepa, l_reg)
    loss = terms["actor"] + terms["critic"] + terms["entropy"] + terms["jepa"]
    if "reg" in terms:
        loss = loss + terms["reg"]
    stats = {**ppo, "jepa_loss": l_jepa, "reg_loss": l_reg, "loss": loss}
    return loss, stats


def eq3_terms(cfg: TrainConfig, actor, critic, entropy, l_jepa, l_reg) -> dict:
    """The terms of Eq. 3 as they enter the loss, weights applied: actor, critic, entropy (the
    bonus, negated), jepa, and reg only when R is on. Their sum, in this order, is the loss."""
    terms = {"actor": cfg.actor_coef * actor, "critic": cfg.critic_coef * critic,
             "entropy": -(cfg.ent_coef * entropy), "jepa": cfg.jepa_coef * l_jepa}
    if cfg.var_reg:
        terms["reg"] = cfg.reg_coef * l_reg
    return terms


GRAD_TERMS = ("jepa", "actor", "critic", "entropy", "reg")
"""The terms of Eq. 3 whose gradient into the x-encoder the diagnostic measures."""


def _total_norm(grads: list[torch.Tensor]) -> float:
    """The L2 norm of several tensors taken as one vector (what the clip measures); 0 for none."""
    if not grads:
        return 0.0
    norms = torch.stack([torch.linalg.vector_norm(g) for g in grads])
    return float(torch.linalg.vector_norm(norms))


def encoder_gradient_terms(agent: JepaAgent, stats: dict) -> dict[str, float]:
    """The L2 norm of the gradient each term of Eq. 3 sends into the x-encoder's parameters, on
    the minibatch whose `stats` (minibatch_loss) are given: ``grad_enc_{term}``. A term that does
    not reach the encoder (∇ off, J off, R off) reads 0. Read-only: torch.autograd.grad leaves
    every .grad untouched and keeps the graph for the update's own backward."""
    cfg = agent.cfg
    terms = eq3_terms(cfg, stats["actor_loss"], stats["critic_loss"], stats["entropy"],
                      stats["jepa_loss"], stats["reg_loss"])
    params = [p for p in agent.encoder.parameters() if p.requires_grad]
    out = {}
    for name in GRAD_TERMS:
        term = terms.get(name)
        norm = 0.0
        if term is not None and term.requires_grad:
            grads = torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
            norm = _total_norm([g for g in grads if g is not None])
        out[f"grad_enc_{name}"] = norm
    return out


def parameter_parts(agent: JepaAgent) -> dict[str, list[nn.Parameter]]:
    """The trainable parameters by part: encoder (x-encoder), predictor, heads (actor-critic)."""
    parts = {"encoder": agent.encoder, "predictor": agent.predictor, "heads": agent.heads}
    return {k: [p for p in m.parameters() if p.requires_grad] for k, m in parts.items()}


def part_gradient_norms(agent: JepaAgent) -> dict[str, float]:
    """The L2 norm of each part's accumulated .grad (after backward, before the clip):
    ``grad_norm_{encoder,predictor,heads}``. Read-only."""
    out = {}
    for name, params in parameter_parts(agent).items():
        grads = [p.grad for p in params if p.grad is not None]
        out[f"grad_norm_{name}"] = _total_norm(grads)
    return out


def clip_groups(agent: JepaAgent) -> list[list[nn.Parameter]]:
    """The parameter groups whose gradient norm TrainConfig.max_grad_norm clips, one clip each.

    'global': one group, every trainable parameter (CleanRL's clip). 'parts': the predictor is
    clipped with the encoder when L_JEPA reaches the encoder (J on) and on its own when it does
    not (J off: it is a diagnostic trained from detached embeddings); the actor-critic heads are
    clipped on their own."""
    if agent.cfg.clip_groups == "global":
        return [agent.trainable_parameters()]
    parts = parameter_parts(agent)
    groups = ([parts["encoder"] + parts["predictor"]] if agent.cfg.jepa
              else [parts["encoder"], parts["predictor"]])
    return [g for g in groups + [parts["heads"]] if g]
