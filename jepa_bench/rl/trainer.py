"""The trainer: one run's state (envs, agent, optimiser, return scaler, counters) and its update.

    trainer = Trainer(cfg, seed, device)
    row = trainer.step()                 # one rollout, one PPO/A2C + JEPA update, its metrics row
    trainer.save(RunPaths(folder))       # checkpoint, then the CSVs, atomically

Owns: the rollout, the update (`learn` over minibatches, each through `minibatch_step`: loss,
backward, clip, Adam, EMA: the one place that step is written, which the throughput benchmark
times as it is), the learning-rate schedule, the checkpoint's content and the metrics row. Must
not decide what a run folder means (jepa_bench.rl.run does) or know about the workflow.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from jepa_bench.config import TrainConfig
from jepa_bench.errors import TrainingDiverged
from jepa_bench.layout import RunPaths
from jepa_bench.metrics import (DIAGNOSTIC_COLUMNS, EPISODE_COLUMNS, METRIC_COLUMNS,
                                write_csv_atomic)
from jepa_bench.rl.agent import (JepaAgent, Minibatch, clip_groups, encoder_gradient_terms,
                                 minibatch_loss, part_gradient_norms, resolve_precision)
from jepa_bench.rl.envs import PixelCartPoleVectorEnv
from jepa_bench.rl.jepa import effective_rank, embed_variance
from jepa_bench.rl.ppo import compute_gae, explained_variance

__all__ = ["CHECKPOINT_VERSION", "ReturnScaler", "Trainer", "flat", "make_optimizer",
           "minibatch_step"]

CHECKPOINT_VERSION = 1


def flat(x: torch.Tensor) -> torch.Tensor:
    """(T, N, ...) -> (T*N, ...): a rollout buffer as one batch."""
    return x.reshape(-1, *x.shape[2:])


def make_optimizer(agent: JepaAgent) -> torch.optim.Optimizer:
    """The run's one Adam over every trainable parameter (CleanRL's eps)."""
    return torch.optim.Adam(agent.trainable_parameters(), lr=agent.cfg.lr, eps=agent.cfg.adam_eps)


def minibatch_step(agent: JepaAgent, optimizer: torch.optim.Optimizer, mb: Minibatch,
                   loss_fn=minibatch_loss, diagnose: bool = False
                   ) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """One gradient step on one minibatch, the only place it is written: Eq. 3's loss
    (`loss_fn`), backward, the gradient-norm clip of each of `clip_groups`, Adam, and the EMA
    of the y-encoder. Returns (each loss term, detached; the gradient diagnostic, {} unless
    `diagnose`). Raises TrainingDiverged, before any weight moves, if the loss is not finite.
    The throughput benchmark times this function, so what it times is what runs."""
    loss, stats = loss_fn(agent, mb)
    if not bool(torch.isfinite(loss)):
        bad = next((k for k, v in stats.items() if not bool(torch.isfinite(v))), "loss")
        raise TrainingDiverged(f"{bad}={float(stats[bad].detach())}")
    diag = encoder_gradient_terms(agent, stats) if diagnose else {}
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if diagnose:
        diag.update(part_gradient_norms(agent))
    for group in clip_groups(agent):
        torch.nn.utils.clip_grad_norm_(group, agent.cfg.max_grad_norm)
    optimizer.step()
    agent.ema_step()
    return {k: v.detach() for k, v in stats.items()}, diag


class ReturnScaler:
    """Scales rewards by the running std of each env's discounted return (TrainConfig.norm_reward).

    The same arithmetic as gymnasium's NormalizeReward wrapper (a running mean/variance of the
    discounted return, updated with every vector step; reward / sqrt(var + eps)), except that
    the discounted return restarts at every episode end, terminated or truncated. float64 state,
    saved in the checkpoint."""

    def __init__(self, num_envs: int, gamma: float, device: torch.device, eps: float = 1e-8):
        self.gamma, self.eps = gamma, eps
        self.disc = torch.zeros(num_envs, dtype=torch.float64, device=device)
        self.mean = torch.zeros((), dtype=torch.float64, device=device)
        self.var = torch.ones((), dtype=torch.float64, device=device)
        self.count = torch.full((), 1e-4, dtype=torch.float64, device=device)

    def __call__(self, reward: torch.Tensor, done: torch.Tensor) -> torch.Tensor:
        self.disc = self.disc * self.gamma + reward.double()
        batch_mean, batch_var, n = self.disc.mean(), self.disc.var(correction=0), self.disc.numel()
        delta, total = batch_mean - self.mean, self.count + n
        m2 = self.var * self.count + batch_var * n + delta.square() * self.count * n / total
        self.mean, self.var, self.count = self.mean + delta * n / total, m2 / total, total
        self.disc = torch.where(done, torch.zeros_like(self.disc), self.disc)
        return (reward.double() / torch.sqrt(self.var + self.eps)).to(reward.dtype)

    def state_dict(self) -> dict:
        return {"disc": self.disc, "mean": self.mean, "var": self.var, "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        dev = self.disc.device
        self.disc, self.mean, self.var, self.count = (state[k].to(dev) for k in
                                                      ("disc", "mean", "var", "count"))


def _pick(cfg: TrainConfig, pixels: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    """The agent's observation: the frame stack, or the true state for the 'state' config."""
    return state.float() if cfg.obs_type == "state" else pixels


class Trainer:
    """Holds everything a run needs, so that a checkpoint can capture it whole."""

    def __init__(self, cfg: TrainConfig, seed: int, device: torch.device,
                 grad_diagnostic: bool = False):
        self.cfg, self.seed, self.device = cfg, seed, device
        # log the gradient each term of Eq. 3 sends into the x-encoder (DIAGNOSTIC_COLUMNS);
        # read-only: the run is the same run with it on or off
        self.grad_diagnostic = grad_diagnostic
        torch.manual_seed(seed)
        self.envs = PixelCartPoleVectorEnv(num_envs=cfg.num_envs, renderer=cfg.renderer,
                                           height=cfg.height, width=cfg.width, device=device,
                                           array_type="torch")
        pixels, info = self.envs.reset(seed=seed)
        self.obs = _pick(cfg, pixels, info["state"].to(device))
        self.agent = JepaAgent(cfg).to(device)
        self.agent.precision = resolve_precision(cfg.precision, device)
        self.optimizer = make_optimizer(self.agent)
        n = cfg.num_envs
        self.ep_return = torch.zeros(n, dtype=torch.float64, device=device)
        self.ep_length = torch.zeros(n, dtype=torch.long, device=device)
        self.scaler = ReturnScaler(n, cfg.gamma, device) if cfg.norm_reward else None
        self.update = 0
        self.global_step = 0
        self.wall_time = 0.0
        self.metric_rows: list[dict] = []
        self.episode_rows: list[dict] = []
        self._episodes_logged = 0

    # -- one rollout of num_steps vector steps ---------------------------------------------------
    def collect(self) -> dict[str, torch.Tensor]:
        cfg, dev = self.cfg, self.device
        T, N = cfg.num_steps, cfg.num_envs
        obs_shape = tuple(self.obs.shape[1:])
        buf = {
            "obs": torch.empty((T, N, *obs_shape), dtype=self.obs.dtype, device=dev),
            "next_obs": torch.empty((T, N, *obs_shape), dtype=self.obs.dtype, device=dev),
            "actions": torch.empty((T, N), dtype=torch.long, device=dev),
            "logprobs": torch.empty((T, N), device=dev),
            "values": torch.empty((T, N), device=dev),
            "next_values": torch.empty((T, N), device=dev),
            "rewards": torch.empty((T, N), device=dev),
            "terminated": torch.empty((T, N), device=dev),
            "dones": torch.empty((T, N), device=dev),
            "embeds": torch.empty((T, N, cfg.dim), device=dev),
        }
        truncated_values = torch.zeros((T, N), device=dev)
        truncated_mask = torch.zeros((T, N), dtype=torch.bool, device=dev)
        for t in range(T):
            action, logprob, value, s_x = self.agent.act(self.obs)
            buf["obs"][t] = self.obs
            buf["actions"][t] = action
            buf["logprobs"][t] = logprob
            buf["values"][t] = value
            buf["embeds"][t] = s_x
            pixels, reward, terminated, truncated, info = self.envs.step(action)
            next_obs = _pick(cfg, pixels, info["state"].to(dev))
            reward = reward.to(dev, torch.float32)
            terminated, truncated = terminated.to(dev), truncated.to(dev)
            done = terminated | truncated
            true_next = next_obs
            self.global_step += N
            self.ep_return += reward
            self.ep_length += 1
            if bool(done.any()):
                final = _pick(cfg, info["final_obs"].to(dev), info["final_state"].to(dev))
                shape = (N,) + (1,) * (next_obs.dim() - 1)
                true_next = torch.where(done.view(shape), final, next_obs)
                if bool(truncated.any()):
                    truncated_values[t, truncated] = self.agent.value(final[truncated])
                    truncated_mask[t] = truncated
                for i in torch.nonzero(done).flatten().tolist():
                    self.episode_rows.append({"env_step": self.global_step,
                                              "return": float(self.ep_return[i]),
                                              "length": int(self.ep_length[i])})
                self.ep_return[done] = 0.0
                self.ep_length[done] = 0
            buf["next_obs"][t] = true_next
            buf["rewards"][t] = self.scaler(reward, done) if self.scaler else reward
            buf["terminated"][t] = terminated.float()
            buf["dones"][t] = done.float()
            self.obs = next_obs
        # V(true next obs): the next step's value, the last obs' value, or the final obs' value
        # for truncated episodes (terminated ones are masked out inside compute_gae).
        buf["next_values"][:-1] = buf["values"][1:]
        buf["next_values"][-1] = self.agent.value(self.obs)
        buf["next_values"] = torch.where(truncated_mask, truncated_values, buf["next_values"])
        return buf

    # -- one PPO update over the rollout ---------------------------------------------------------
    def batch(self, buf: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The rollout as one flat batch of T*N samples, with GAE's advantages and returns: the
        fields of a Minibatch."""
        cfg = self.cfg
        advantages, returns = compute_gae(buf["rewards"], buf["values"], buf["next_values"],
                                          buf["terminated"], buf["dones"], cfg.gamma,
                                          cfg.gae_lambda)
        return {"obs": flat(buf["obs"]), "next_obs": flat(buf["next_obs"]),
                "actions": flat(buf["actions"]), "logprobs": flat(buf["logprobs"]),
                "advantages": flat(advantages), "returns": flat(returns)}

    def learn(self, buf: dict[str, torch.Tensor]) -> dict[str, float]:
        """One update over the rollout: update_epochs passes over a fresh permutation of the
        batch, one `minibatch_step` per minibatch; the mean of each loss term, and the
        rollout's explained variance, embedding variance and effective rank."""
        cfg = self.cfg
        batch = self.batch(buf)
        totals: dict[str, torch.Tensor] = {}
        diag: dict[str, float] = {}
        count = 0
        for _ in range(cfg.update_epochs):
            perm = torch.randperm(cfg.batch_size, device=self.device)
            for start in range(0, cfg.batch_size, cfg.minibatch_size):
                mb = Minibatch(**{k: v[perm[start:start + cfg.minibatch_size]]
                                  for k, v in batch.items()})
                try:
                    stats, found = minibatch_step(self.agent, self.optimizer, mb,
                                                  diagnose=self.grad_diagnostic and count == 0)
                except TrainingDiverged as exc:
                    raise TrainingDiverged(f"{exc} at env_step {self.global_step} "
                                           f"(update {self.update + 1})") from None
                diag.update(found)
                for k, v in stats.items():
                    totals[k] = totals.get(k, 0.0) + v
                count += 1
        out = {k: float(v) / count for k, v in totals.items()}
        out["explained_variance"] = float(explained_variance(flat(buf["values"]),
                                                             batch["returns"]))
        embeds = flat(buf["embeds"])
        out["embed_var"] = float(embed_variance(embeds))
        out["embed_rank"] = float(effective_rank(embeds))
        out.update(diag)
        return out

    def step(self) -> dict:
        """One update: rollout, learn, and the metrics row it produces."""
        cfg = self.cfg
        lr = cfg.lr * (1.0 - self.update / cfg.num_updates) if cfg.anneal_lr else cfg.lr
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        started = time.perf_counter()
        buf = self.collect()
        stats = self.learn(buf)
        self.update += 1
        self.wall_time += time.perf_counter() - started
        new_eps = self.episode_rows[self._episodes_logged:]
        self._episodes_logged = len(self.episode_rows)
        row = {
            "update": self.update, "env_step": self.global_step,
            "wall_time": round(self.wall_time, 3),
            "sps": round(self.global_step / max(self.wall_time, 1e-9), 1),
            "episodic_return": (sum(e["return"] for e in new_eps) / len(new_eps)) if new_eps else None,
            "episodes": len(new_eps), "lr": lr,
            **{k: stats[k] for k in ("jepa_loss", "reg_loss", "actor_loss", "critic_loss",
                                     "entropy", "approx_kl", "clip_frac", "explained_variance",
                                     "embed_var", "embed_rank")},
            **{k: stats[k] for k in DIAGNOSTIC_COLUMNS if k in stats},
        }
        self.metric_rows.append(row)
        return row

    # -- checkpointing ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "version": CHECKPOINT_VERSION,
            "config": self.cfg.to_dict(), "seed": self.seed,
            "update": self.update, "global_step": self.global_step, "wall_time": self.wall_time,
            "agent": self.agent.state_dict(), "optimizer": self.optimizer.state_dict(),
            "envs": self.envs.get_state(), "obs": self.obs,
            "ep_return": self.ep_return, "ep_length": self.ep_length,
            "return_scaler": self.scaler.state_dict() if self.scaler else None,
            "metric_rows": self.metric_rows, "episode_rows": self.episode_rows,
            "episodes_logged": self._episodes_logged,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        }

    def load_state_dict(self, ckpt: dict) -> None:
        self.update, self.global_step = ckpt["update"], ckpt["global_step"]
        self.wall_time = ckpt["wall_time"]
        self.agent.load_state_dict(ckpt["agent"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.envs.set_state(ckpt["envs"])
        self.obs = ckpt["obs"].to(self.device)
        self.ep_return = ckpt["ep_return"].to(self.device)
        self.ep_length = ckpt["ep_length"].to(self.device)
        if self.scaler is not None:
            self.scaler.load_state_dict(ckpt["return_scaler"])
        self.metric_rows, self.episode_rows = ckpt["metric_rows"], ckpt["episode_rows"]
        self._episodes_logged = ckpt["episodes_logged"]
        torch.set_rng_state(ckpt["torch_rng"])
        if ckpt["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(ckpt["cuda_rng"])

    def save(self, paths: RunPaths) -> None:
        """Checkpoint first, then the CSVs: both renamed into place, never half-written."""
        paths.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        tmp = paths.checkpoint.with_name(paths.checkpoint.name + ".tmp")
        torch.save(self.state_dict(), tmp)
        tmp.replace(paths.checkpoint)
        self.write_csvs(paths)

    def save_encoder(self, paths: RunPaths) -> Path:
        """The x-encoder's weights now, into encoder/step{env_step}.pt (renamed into place)."""
        path = paths.encoder_snapshot(self.global_step)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save({"env_step": self.global_step, "update": self.update,
                    "config": self.cfg.to_dict(), "seed": self.seed,
                    "encoder": {k: v.detach().cpu() for k, v in
                                self.agent.encoder.state_dict().items()}}, tmp)
        tmp.replace(path)
        return path

    def write_csvs(self, paths: RunPaths) -> None:
        columns = METRIC_COLUMNS + (DIAGNOSTIC_COLUMNS if self.grad_diagnostic else ())
        write_csv_atomic(paths.metrics, columns, self.metric_rows)
        write_csv_atomic(paths.episodes, EPISODE_COLUMNS, self.episode_rows)
