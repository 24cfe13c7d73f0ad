"""The training loop: rollout -> PPO/JEPA update -> log -> checkpoint, and the run folder.

    jepa-bench train --config j1g1r0 --seed 0                 # 100k steps -> results/runs/j1g1r0/seed0
    jepa-bench train --config j1g0r0 --seed 3 --resume        # continue after a kill
    jepa-bench train --config state --seed 0 --set lr=3e-4    # any TrainConfig field via --set

A run folder holds run.json, metrics.csv (one row per update), episodes.csv (one row per finished
episode) and checkpoints/last.pt. The CSVs are rewritten atomically at every checkpoint, so they
always match the checkpoint a resumed run continues from.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

from jepa_bench.agent import JepaAgent, Minibatch, minibatch_loss
from jepa_bench.config import DEFAULT_SETTINGS, TrainConfig, config_differences
from jepa_bench.envs import PixelCartPoleVectorEnv
from jepa_bench.jepa import embed_variance, effective_rank
from jepa_bench.metrics import (EPISODE_COLUMNS, METRIC_COLUMNS, Progress, RunPaths, read_json,
                                write_csv_atomic, write_json_atomic)
from jepa_bench.ppo import compute_gae, explained_variance

CHECKPOINT_VERSION = 1


class RunFolderError(Exception):
    """The run folder cannot be used as asked (exists, complete, mismatched config)."""


class TrainingDiverged(Exception):
    """A loss became NaN or infinite."""


def default_run_dir(config_name: str, seed: int, root: str | Path = "results/runs") -> Path:
    """A run's folder is a function of (config, seed) only, never of the time."""
    return Path(root) / config_name / f"seed{seed}"


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' requested but torch.cuda.is_available() is False; "
                         "use 'cpu' or 'auto'")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ValueError(f"device={device!r} is not one of: 'auto', 'cpu', 'cuda'")
    return torch.device(device)


def _git_revision() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _versions() -> dict:
    import gymnasium
    import numpy

    from jepa_bench import __version__
    return {"jepa_bench": __version__, "torch": torch.__version__, "gymnasium": gymnasium.__version__,
            "numpy": numpy.__version__, "python": platform.python_version()}


# --- rollout ------------------------------------------------------------------------------------

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

    def __init__(self, cfg: TrainConfig, seed: int, device: torch.device):
        self.cfg, self.seed, self.device = cfg, seed, device
        torch.manual_seed(seed)
        self.envs = PixelCartPoleVectorEnv(num_envs=cfg.num_envs, renderer=cfg.renderer,
                                           height=cfg.height, width=cfg.width, device=device,
                                           array_type="torch")
        pixels, info = self.envs.reset(seed=seed)
        self.obs = _pick(cfg, pixels, info["state"].to(device))
        self.agent = JepaAgent(cfg).to(device)
        self.optimizer = torch.optim.Adam(self.agent.trainable_parameters(), lr=cfg.lr,
                                          eps=cfg.adam_eps)
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
    def learn(self, buf: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.cfg
        advantages, returns = compute_gae(buf["rewards"], buf["values"], buf["next_values"],
                                          buf["terminated"], buf["dones"], cfg.gamma,
                                          cfg.gae_lambda)
        flat = lambda x: x.reshape(-1, *x.shape[2:])  # noqa: E731  (T, N, ...) -> (T*N, ...)
        b_obs, b_next = flat(buf["obs"]), flat(buf["next_obs"])
        b_actions, b_logprobs = flat(buf["actions"]), flat(buf["logprobs"])
        b_adv, b_ret = flat(advantages), flat(returns)
        totals: dict[str, torch.Tensor] = {}
        count = 0
        for _ in range(cfg.update_epochs):
            perm = torch.randperm(cfg.batch_size, device=self.device)
            for start in range(0, cfg.batch_size, cfg.minibatch_size):
                idx = perm[start:start + cfg.minibatch_size]
                mb = Minibatch(b_obs[idx], b_next[idx], b_actions[idx], b_logprobs[idx],
                               b_adv[idx], b_ret[idx])
                loss, stats = minibatch_loss(self.agent, mb)
                if not bool(torch.isfinite(loss)):
                    bad = next((k for k, v in stats.items() if not bool(torch.isfinite(v))), "loss")
                    raise TrainingDiverged(f"{bad}={float(stats[bad].detach())} at env_step "
                                           f"{self.global_step} (update {self.update + 1})")
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.agent.trainable_parameters(), cfg.max_grad_norm)
                self.optimizer.step()
                self.agent.ema_step()
                for k, v in stats.items():
                    totals[k] = totals.get(k, 0.0) + v.detach()
                count += 1
        out = {k: float(v) / count for k, v in totals.items()}
        out["explained_variance"] = float(explained_variance(flat(buf["values"]), b_ret))
        embeds = flat(buf["embeds"])
        out["embed_var"] = float(embed_variance(embeds))
        out["embed_rank"] = float(effective_rank(embeds))
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

    def write_csvs(self, paths: RunPaths) -> None:
        write_csv_atomic(paths.metrics, METRIC_COLUMNS, self.metric_rows)
        write_csv_atomic(paths.episodes, EPISODE_COLUMNS, self.episode_rows)


# --- the run folder -----------------------------------------------------------------------------

def _prepare_folder(paths: RunPaths, cfg: TrainConfig, resume: bool, force: bool):
    """Decide what to do with an existing folder. Returns 'fresh', 'resume' or 'complete'."""
    if not paths.run_json.exists():
        if paths.checkpoint.exists() and not (resume or force):
            raise RunFolderError(f"run folder {paths.root} holds a checkpoint; pass --resume to "
                                 "continue it or --force to start over")
        if force:
            shutil.rmtree(paths.checkpoint.parent, ignore_errors=True)
        return "resume" if (resume and not force and paths.checkpoint.exists()) else "fresh"
    info = read_json(paths.run_json)
    status = info.get("status", "unknown")
    if force:
        for p in paths.results():
            p.unlink(missing_ok=True)
        shutil.rmtree(paths.checkpoint.parent, ignore_errors=True)
        return "fresh"
    if not resume:
        if status == "complete":
            raise RunFolderError(f"run folder {paths.root} already holds a complete run; "
                                 "pass --resume to keep it or --force to overwrite it")
        raise RunFolderError(f"run folder {paths.root} already holds a run (status {status!r}); "
                             "pass --resume to continue it or --force to start over")
    diff = config_differences(info.get("config") or {}, cfg.to_dict())
    if diff:
        raise RunFolderError(f"run folder {paths.root} was made with a different config "
                             f"(differs in: {', '.join(diff)}); use --force to start over")
    if status == "complete":
        return "complete"
    return "resume" if paths.checkpoint.exists() else "fresh"


def _stopped_early(cfg: TrainConfig, trainer: Trainer) -> bool:
    rows = trainer.metric_rows
    return cfg.stop_embed_var > 0 and bool(rows) and rows[-1]["embed_var"] < cfg.stop_embed_var


def train(cfg: TrainConfig, seed: int, out_dir: str | Path, config_name: str = "custom",
          device: str = "auto", threads: int | None = None, resume: bool = False,
          force: bool = False, progress: bool = True, command: str | None = None,
          stop_after_updates: int | None = None, init_from: str | Path | None = None,
          settings: str | None = None) -> dict:
    """Train one run into `out_dir`; returns the final run.json content.

    `init_from` starts a fresh run from the weights (all networks, not the optimiser) of another
    run's checkpoint, e.g. a collapsed encoder for the recovery experiment.

    `stop_after_updates` ends the process early after that many updates in this call (used by
    tests to interrupt a run at a known point); the run stays 'running' and can be resumed."""
    if seed < 0:
        raise ValueError(f"seed={seed} must be >= 0")
    dev = resolve_device(device)
    if threads is not None:
        if threads <= 0:
            raise ValueError(f"threads={threads} must be a positive integer")
        torch.set_num_threads(threads)
    paths = RunPaths(Path(out_dir))
    action = _prepare_folder(paths, cfg, resume, force)
    if action == "complete":
        return read_json(paths.run_json)

    trainer = Trainer(cfg, seed, dev)
    if action == "resume":
        ckpt = torch.load(paths.checkpoint, map_location=dev, weights_only=False)
        if ckpt.get("version") != CHECKPOINT_VERSION or ckpt["config"] != cfg.to_dict() \
                or ckpt["seed"] != seed:
            raise RunFolderError(f"checkpoint {paths.checkpoint} does not match this run "
                                 "(config, seed or format); use --force to start over")
        trainer.load_state_dict(ckpt)
    elif init_from is not None:
        source = torch.load(Path(init_from), map_location=dev, weights_only=False)
        try:
            trainer.agent.load_state_dict(source["agent"])
        except (KeyError, RuntimeError) as exc:
            raise RunFolderError(f"--init-from {init_from}: weights do not fit this "
                                 f"configuration ({str(exc).splitlines()[0]})") from None

    info = {
        "config_name": config_name, "seed": seed, "settings": settings or DEFAULT_SETTINGS,
        "config": cfg.to_dict(), "status": "running",
        "env_steps": trainer.global_step, "updates": trainer.update,
        "total_updates": cfg.num_updates, "device": str(dev),
        "threads": torch.get_num_threads(), "versions": _versions(), "git_rev": _git_revision(),
        "command": command or " ".join(sys.argv), "error": None,
        "init_from": str(init_from) if init_from is not None else None,
    }
    write_json_atomic(paths.run_json, info)
    bar = Progress(cfg.num_updates * cfg.batch_size, f"{config_name}/seed{seed}", enabled=progress)
    done_here = 0
    try:
        while trainer.update < cfg.num_updates and not _stopped_early(cfg, trainer):
            row = trainer.step()
            done_here += 1
            recent = [e["return"] for e in trainer.episode_rows[-20:]]
            bar.update(trainer.global_step, row["sps"],
                       sum(recent) / len(recent) if recent else None, row["embed_var"])
            last = trainer.update == cfg.num_updates or _stopped_early(cfg, trainer)
            if last or trainer.update % cfg.checkpoint_every == 0:
                trainer.save(paths)
                info.update(env_steps=trainer.global_step, updates=trainer.update)
                write_json_atomic(paths.run_json, info)
            if stop_after_updates is not None and done_here >= stop_after_updates and not last:
                bar.close()
                return info
    except TrainingDiverged as exc:
        bar.close()
        trainer.write_csvs(paths)  # every row finished before the failure
        info.update(status="failed", error=str(exc), env_steps=trainer.global_step,
                    updates=trainer.update)
        write_json_atomic(paths.run_json, info)
        raise
    bar.close()
    if done_here == 0:  # resumed a finished checkpoint whose CSVs were deleted: write them back
        trainer.write_csvs(paths)
    info.update(status="complete", env_steps=trainer.global_step, updates=trainer.update,
                wall_time=round(trainer.wall_time, 3))
    write_json_atomic(paths.run_json, info)
    return info
