"""The training loop: rollout -> PPO/JEPA update -> log -> checkpoint, and the run folder.

    jepa-bench train --config j1g1r0 --seed 0                 # 100k steps -> runs/j1g1r0/seed0
    jepa-bench train --config j1g0r0 --seed 3 --resume        # continue after a kill
    jepa-bench train --config j1g0r0 --seed 3 --resume --total-steps 200000   # extend a run
    jepa-bench train --config state --seed 0 --set lr=3e-4    # any TrainConfig field via --set

A run folder holds run.json, metrics.csv (one row per update), episodes.csv (one row per finished
episode) and checkpoints/last.pt. The CSVs are rewritten atomically at every checkpoint, so they
always match the checkpoint a resumed run continues from.

What an existing folder means (`_prepare_folder`):
- no run there: a fresh run; with --resume a note on stderr says that nothing was resumed;
- a run there: refused without --resume or --force; --resume continues it when its config and
  seed are the ones asked, and extends it when only total_steps grows (the learning-rate
  schedule of an extended run is recorded in run.json, `lr_schedule`);
- --force deletes the run first, but never files tracked by git (committed results).
One process at a time writes a run folder: a second one waits for the first (an OS lock on
`.train.lock`, released when the process ends, even by SIGKILL).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

from jepa_bench.agent import (JepaAgent, Minibatch, clip_groups, cpuinfo, encoder_gradient_terms,
                              minibatch_loss, part_gradient_norms, resolve_precision)
from jepa_bench.config import DEFAULT_SETTINGS, TrainConfig, config_differences
from jepa_bench.envs import PixelCartPoleVectorEnv
from jepa_bench.jepa import embed_variance, effective_rank
from jepa_bench.layout import DEFAULT_RUNS_ROOT, RunPaths, run_dir
from jepa_bench.metrics import (DIAGNOSTIC_COLUMNS, EPISODE_COLUMNS, METRIC_COLUMNS, Progress,
                                read_json, write_csv_atomic, write_json_atomic)
from jepa_bench.ppo import compute_gae, explained_variance

CHECKPOINT_VERSION = 1
LOCK_FILE = ".train.lock"
LR_RULE = ("update u (0, 1, ...) uses lr * (1 - u / total_updates) when anneal_lr, lr otherwise; "
           "a run extended with --resume --total-steps keeps the updates it had and continues "
           "with total_updates of the new horizon, so each further update gets the lr a run of "
           "the new length would have had at that update")
TRACKERS = ("tensorboard",)
ENCODER_SNAPSHOT_STEPS = (25_000, 50_000, 100_000)
"""Env steps at which every run keeps its x-encoder's weights (preregistered in
docs/trained-encoders.md), besides step 0 (before the first update) and its last step: the first
update that reaches each point writes RunPaths.encoder_snapshot(its env step)."""


class RunFolderError(Exception):
    """The run folder cannot be used as asked (exists, complete, mismatched config)."""


class TrainingDiverged(Exception):
    """A loss became NaN or infinite."""


def default_run_dir(config_name: str, seed: int, root: str | Path = DEFAULT_RUNS_ROOT) -> Path:
    """A run's folder is a function of (config, seed) only, never of the time; without --out
    it lies under ./runs/ (ignored by git), never under results/, which holds only what the
    pipeline wrote."""
    return run_dir(root, config_name, seed)


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


def machine_info() -> dict:
    """What decides whether a rerun is bit-identical besides the code and the seed: the CPU
    model and its vector instruction sets (the kernels torch picks), the torch build and the
    thread count (recorded beside this in run.json)."""
    model, flags = cpuinfo()
    model = model or platform.processor() or "unknown"
    if sys.platform == "darwin":
        try:
            model = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"],
                                   capture_output=True, text=True, timeout=5).stdout.strip() or model
        except (OSError, subprocess.SubprocessError):
            pass
    isa = sorted(f for f in flags if f.startswith(("avx", "amx", "fma", "f16c", "sse4", "asimd",
                                                     "sve", "neon")))
    return {"cpu": model, "arch": platform.machine(), "isa": isa,
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch_git": torch.version.git_version, "cuda": torch.version.cuda,
            "logical_cpus": os.cpu_count(), "os": platform.platform()}


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
        diag: dict[str, float] = {}
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
                if self.grad_diagnostic and count == 0:
                    diag = encoder_gradient_terms(self.agent, stats)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if self.grad_diagnostic and count == 0:
                    diag.update(part_gradient_norms(self.agent))
                for group in clip_groups(self.agent):
                    torch.nn.utils.clip_grad_norm_(group, cfg.max_grad_norm)
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


# --- the run folder -----------------------------------------------------------------------------

def tracked_files(folder: Path) -> list[str]:
    """Files in `folder` that git tracks (committed results); [] outside a git work tree."""
    if not folder.is_dir():
        return []
    try:
        out = subprocess.run(["git", "ls-files", "--", "."], cwd=folder, capture_output=True,
                             text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return []
    return out.stdout.split() if out.returncode == 0 else []


def _force_delete(paths: RunPaths) -> None:
    tracked = tracked_files(paths.root)
    if tracked:
        raise RunFolderError(f"run folder {paths.root} holds {len(tracked)} file(s) tracked by git "
                             f"(e.g. {tracked[0]}): --force never deletes committed results; "
                             "write to another --out (default: runs/{config}/seed{seed})")
    for p in paths.results():
        p.unlink(missing_ok=True)
    shutil.rmtree(paths.checkpoint.parent, ignore_errors=True)
    shutil.rmtree(paths.encoder_snapshot(0).parent, ignore_errors=True)


def _prepare_folder(paths: RunPaths, cfg: TrainConfig, seed: int, resume: bool, force: bool):
    """Decide what to do with an existing folder: ('fresh' | 'resume' | 'extend' | 'complete',
    the run.json found there or None)."""
    if not paths.run_json.exists():
        if paths.checkpoint.exists() and not (resume or force):
            raise RunFolderError(f"run folder {paths.root} holds a checkpoint; pass --resume to "
                                 "continue it or --force to start over")
        if force:
            _force_delete(paths)
        if resume and not force and paths.checkpoint.exists():
            return "resume", None
        if resume and not force:
            print(f"jepa-bench train: note: no run in {paths.root} to resume; starting a fresh "
                  "one", file=sys.stderr)
        return "fresh", None
    info = read_json(paths.run_json)
    status = info.get("status", "unknown")
    if force:
        _force_delete(paths)
        return "fresh", None
    if not resume:
        if status == "complete":
            raise RunFolderError(f"run folder {paths.root} already holds a complete run; "
                                 "pass --resume to keep it, or --out another folder")
        raise RunFolderError(f"run folder {paths.root} already holds a run (status {status!r}); "
                             "pass --resume to continue it or --force to start over")
    if info.get("seed", seed) != seed:
        raise RunFolderError(f"run folder {paths.root} holds seed {info['seed']}, not seed {seed}; "
                             "pass its seed to --resume it, or --out another folder")
    old = info.get("config") or {}
    diff = config_differences(old, cfg.to_dict())
    if diff == ["total_steps"]:
        before = old["total_steps"]
        if cfg.total_steps < before:
            raise RunFolderError(f"run folder {paths.root} has total_steps={before}; --resume "
                                 f"can extend a run, not shorten it to {cfg.total_steps}")
        if not paths.checkpoint.exists():
            raise RunFolderError(f"run folder {paths.root} has no checkpoint "
                                 f"({paths.checkpoint}) to extend from; --out another folder")
        return "extend", info
    if diff:
        raise RunFolderError(f"run folder {paths.root} was made with a different config "
                             f"(differs in: {', '.join(diff)}); --resume can change only a "
                             "growing total_steps; --out another folder")
    if status == "complete":
        return "complete", info
    return ("resume", info) if paths.checkpoint.exists() else ("fresh", None)


def _load_checkpoint(path: Path, dev: torch.device, what: str) -> dict:
    """torch.load, with one line naming the file when it is truncated, empty or not ours."""
    try:
        ckpt = torch.load(path, map_location=dev, weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file: re-raised as one line
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RunFolderError(f"{what} {path} cannot be read ({reason[:160]}); it was left as it "
                             "is: restore it, or start the run over with --force") from None
    if not isinstance(ckpt, dict) or "agent" not in ckpt:
        raise RunFolderError(f"{what} {path} is not a jepa-bench checkpoint; it was left as it "
                             "is: restore it, or start the run over with --force")
    return ckpt


class _FolderLock:
    """One writer per run folder: an OS lock (flock) on the folder's .train.lock, held while the
    process lives; a second process waits for it (a pipeline rerun while a killed pipeline's
    orphaned run still trains). No-op where flock does not exist."""

    def __init__(self, folder: Path):
        self.fh = None
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not on POSIX
            return
        folder.mkdir(parents=True, exist_ok=True)
        self.fh = open(folder / LOCK_FILE, "a+")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.fh.seek(0)
            holder = self.fh.read().strip() or "another process"
            print(f"jepa-bench train: waiting for pid {holder}, which is writing {folder}",
                  file=sys.stderr, flush=True)
            fcntl.flock(self.fh, fcntl.LOCK_EX)
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(str(os.getpid()))
        self.fh.flush()

    def release(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class _Tracker:
    """Optional TensorBoard log of every metrics row (CleanRL's names), in {out}/tensorboard/."""

    def __init__(self, kind: str | None, folder: Path):
        self.writer = None
        if kind is None:
            return
        if kind not in TRACKERS:
            raise ValueError(f"track={kind!r} is not one of: {', '.join(TRACKERS)}")
        self.writer = tensorboard_writer(folder / "tensorboard")

    def log(self, row: dict) -> None:
        if self.writer is None:
            return
        step = row["env_step"]
        names = {"episodic_return": "charts/episodic_return", "sps": "charts/SPS",
                 "lr": "charts/learning_rate", "embed_var": "charts/embed_var",
                 "embed_rank": "charts/embed_rank"}
        for key, value in row.items():
            if key in ("update", "env_step", "wall_time", "episodes") or value is None:
                continue
            self.writer.add_scalar(names.get(key, f"losses/{key}"), value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def tensorboard_writer(folder: Path):
    """torch's SummaryWriter, or one line saying what to install."""
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ValueError("--track tensorboard needs the tensorboard package: pip install "
                         "tensorboard (or pip install -e \".[track]\")") from None
    return SummaryWriter(str(folder))


def _stopped_early(cfg: TrainConfig, trainer: Trainer) -> bool:
    rows = trainer.metric_rows
    return cfg.stop_embed_var > 0 and bool(rows) and rows[-1]["embed_var"] < cfg.stop_embed_var


def train(cfg: TrainConfig, seed: int, out_dir: str | Path, config_name: str = "custom",
          device: str = "auto", threads: int | None = None, resume: bool = False,
          force: bool = False, progress: bool = True, command: str | None = None,
          stop_after_updates: int | None = None, init_from: str | Path | None = None,
          settings: str | None = None, track: str | None = None,
          grad_diagnostic: bool = False) -> dict:
    """Train one run into `out_dir`; returns the final run.json content.

    `init_from` starts a fresh run from the weights (all networks, not the optimiser) of another
    run's checkpoint, e.g. a collapsed encoder for the recovery experiment.

    `grad_diagnostic` logs DIAGNOSTIC_COLUMNS in metrics.csv (a run that had it keeps it when
    resumed); it does not change what the run computes.

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
    lock = _FolderLock(paths.root)
    try:
        return _train(cfg, seed, paths, dev, config_name, resume, force, progress, command,
                      stop_after_updates, init_from, settings, track, grad_diagnostic)
    finally:
        lock.release()


def _train(cfg, seed, paths, dev, config_name, resume, force, progress, command,
           stop_after_updates, init_from, settings, track, grad_diagnostic) -> dict:
    action, old_info = _prepare_folder(paths, cfg, seed, resume, force)
    if action == "complete":
        return old_info
    tracker = _Tracker(track, paths.root)

    grad_diagnostic = bool(grad_diagnostic or (old_info or {}).get("grad_diagnostic"))
    trainer = Trainer(cfg, seed, dev, grad_diagnostic=grad_diagnostic)
    if action in ("resume", "extend"):
        ckpt = _load_checkpoint(paths.checkpoint, dev, "checkpoint")
        saved = dict(ckpt.get("config") or {})
        grown = saved.get("total_steps", 0) <= cfg.total_steps
        saved["total_steps"] = cfg.total_steps
        # a field the checkpoint predates counts as its default (config_differences)
        if ckpt.get("version") != CHECKPOINT_VERSION or config_differences(saved, cfg.to_dict()) \
                or ckpt.get("seed") != seed or not grown:
            raise RunFolderError(f"checkpoint {paths.checkpoint} does not match this run "
                                 "(config, seed or format); use --force to start over")
        trainer.load_state_dict(ckpt)
    elif init_from is not None:
        source = _load_checkpoint(Path(init_from), dev, "--init-from")
        try:
            trainer.agent.load_state_dict(source["agent"])
        except (KeyError, RuntimeError) as exc:
            raise RunFolderError(f"--init-from {init_from}: weights do not fit this "
                                 f"configuration ({str(exc).splitlines()[0]})") from None
    segments = list(((old_info or {}).get("lr_schedule") or {}).get("segments") or [])
    if not segments and trainer.update > 0:  # a run from before lr_schedule was recorded
        segments = [{"first_update": 0,
                     "total_updates": (old_info or {}).get("total_updates", cfg.num_updates)}]
    if not segments or segments[-1]["total_updates"] != cfg.num_updates:
        segments.append({"first_update": trainer.update, "total_updates": cfg.num_updates})

    info = {
        "config_name": config_name, "seed": seed, "settings": settings or DEFAULT_SETTINGS,
        "config": cfg.to_dict(), "status": "running",
        "env_steps": trainer.global_step, "updates": trainer.update,
        "total_updates": cfg.num_updates, "device": str(dev),
        "precision": trainer.agent.precision,
        "threads": torch.get_num_threads(), "versions": _versions(), "git_rev": _git_revision(),
        "machine": machine_info(),
        "command": command or " ".join(sys.argv), "error": None,
        "init_from": str(init_from) if init_from is not None else None,
        "grad_diagnostic": grad_diagnostic,
        "lr_schedule": {"rule": LR_RULE, "anneal_lr": cfg.anneal_lr, "segments": segments},
    }
    if old_info and old_info.get("command") and action == "extend":
        info["commands"] = old_info.get("commands", [old_info["command"]]) + [info["command"]]
    elif old_info and old_info.get("commands"):
        info["commands"] = old_info["commands"]
    write_json_atomic(paths.run_json, info)
    if trainer.update == 0:  # the encoder at initialisation (or as --init-from loaded it)
        trainer.save_encoder(paths)
    label = f"{config_name}/seed{seed}"
    bar = Progress(cfg.num_updates * cfg.batch_size, label, enabled=progress)
    done_here = 0
    started = time.monotonic()
    try:
        while trainer.update < cfg.num_updates and not _stopped_early(cfg, trainer):
            before = trainer.global_step
            row = trainer.step()
            done_here += 1
            last = trainer.update == cfg.num_updates or _stopped_early(cfg, trainer)
            if last or any(before < s <= trainer.global_step for s in ENCODER_SNAPSHOT_STEPS):
                trainer.save_encoder(paths)
            tracker.log(row)
            recent = [e["return"] for e in trainer.episode_rows[-20:]]
            elapsed = time.monotonic() - started
            eta = elapsed / done_here * (cfg.num_updates - trainer.update)
            bar.label = f"{label} [elapsed {_clock(elapsed)}, ETA {_clock(eta)}]"
            bar.update(trainer.global_step, row["sps"],
                       sum(recent) / len(recent) if recent else None, row["embed_var"])
            if last or trainer.update % cfg.checkpoint_every == 0:
                trainer.save(paths)
                info.update(env_steps=trainer.global_step, updates=trainer.update)
                write_json_atomic(paths.run_json, info)
            if stop_after_updates is not None and done_here >= stop_after_updates and not last:
                bar.close()
                tracker.close()
                return info
    except TrainingDiverged as exc:
        bar.close()
        tracker.close()
        trainer.write_csvs(paths)  # every row finished before the failure
        info.update(status="failed", error=str(exc), env_steps=trainer.global_step,
                    updates=trainer.update)
        write_json_atomic(paths.run_json, info)
        raise
    bar.close()
    tracker.close()
    if done_here == 0:  # resumed a finished checkpoint whose CSVs were deleted: write them back
        trainer.write_csvs(paths)
    info.update(status="complete", env_steps=trainer.global_step, updates=trainer.update,
                wall_time=round(trainer.wall_time, 3))
    write_json_atomic(paths.run_json, info)
    return info
