"""Throughput measurements shared by the pytest-benchmark suite and `jepa-bench bench`.

Every figure is measured, never assumed: the matrix-multiply peak is timed in the same process
as the update it is compared with, and model FLOPs are counted by torch.utils.flop_counter.
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from jepa_bench.rl.agent import resolve_precision
from jepa_bench.rl.machine import cpu_bf16_flags, git_revision, machine_info
from jepa_bench.config import PAPER_CONFIGS, TrainConfig, resolve
from jepa_bench.rl.trainer import Trainer, make_optimizer, minibatch_step


@contextmanager
def num_threads(n: int | None):
    """Run a block with `n` torch threads (None: leave as is), then restore."""
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, repeats: int = 5, warmup: int = 1, device=torch.device("cpu")) -> list[float]:
    """Wall-clock seconds of `repeats` calls of fn() after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    _sync(device)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        out.append(time.perf_counter() - t0)
    return out


def matmul_peak(n: int = 512, repeats: int = 20) -> float:
    """Measured float32 matmul FLOP/s on the current thread setting (best of `repeats`)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    secs = timed(lambda: a @ b, repeats=repeats, warmup=3)
    return 2 * n**3 / min(secs)


def _sdpa_forward_flops(q_shape, k_shape, v_shape, *args, out_shape=None, **kwargs) -> int:
    b, h, s_q, d = q_shape
    return 4 * b * h * s_q * k_shape[2] * d  # Q K^T and P V


def _sdpa_backward_flops(grad_out_shape, q_shape, k_shape, v_shape, *args, out_shape=None,
                         **kwargs) -> int:
    return 2 * _sdpa_forward_flops(q_shape, k_shape, v_shape)  # dQ, dK, dV, dP: four matmuls


def _flop_mapping() -> dict:
    """torch's flop counter has no formula for the CPU fused-attention kernels; add them."""
    ops = torch.ops.aten
    mapping = {}
    if hasattr(ops, "_scaled_dot_product_flash_attention_for_cpu"):
        mapping[ops._scaled_dot_product_flash_attention_for_cpu] = _sdpa_forward_flops
    if hasattr(ops, "_scaled_dot_product_flash_attention_for_cpu_backward"):
        mapping[ops._scaled_dot_product_flash_attention_for_cpu_backward] = _sdpa_backward_flops
    return mapping


def count_flops(fn) -> int:
    """Model FLOPs of fn() as torch.utils.flop_counter counts them (matmuls, convs, attention)."""
    with FlopCounterMode(display=False, custom_mapping=_flop_mapping()) as counter:
        fn()
    return int(counter.get_total_flops())


def make_trainer(config: str | TrainConfig, seed: int = 0, device: str = "cpu") -> Trainer:
    cfg = resolve(config) if isinstance(config, str) else config
    return Trainer(cfg, seed, torch.device(device))


def update_profile(trainer: Trainer, repeats: int = 3) -> dict:
    """Time one full PPO update (all epochs) on a real rollout; FLOPs and MFU against the
    matmul peak measured here, on the same thread setting."""
    buf = trainer.collect()
    flops = count_flops(lambda: trainer.learn(buf))
    secs = timed(lambda: trainer.learn(buf), repeats=repeats, warmup=1, device=trainer.device)
    median = statistics.median(secs)
    peak = matmul_peak()
    achieved = flops / median
    return {"update_seconds": median, "update_seconds_iqr": _iqr(secs), "update_flops": flops,
            "flops_per_env_step_update": flops / trainer.cfg.batch_size,
            "achieved_flops": achieved, "matmul_peak_flops": peak, "mfu": achieved / peak}


def rollout_flops_per_step(trainer: Trainer) -> float:
    """Model FLOPs of one rollout, per env step (x-encoder forward, heads, bootstrap values)."""
    steps = trainer.cfg.batch_size
    return count_flops(trainer.collect) / steps


def training_sps(trainer: Trainer, updates: int = 2) -> dict:
    """End-to-end env steps per second (rollout with rendering + update), after one warm-up."""
    trainer.step()
    start_step = trainer.global_step
    t0 = time.perf_counter()
    for _ in range(updates):
        trainer.step()
    _sync(trainer.device)
    secs = time.perf_counter() - t0
    return {"sps": (trainer.global_step - start_step) / secs, "seconds": secs}


def _iqr(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    q = statistics.quantiles(values, n=4)
    return q[2] - q[0]


def bench_table(configs=PAPER_CONFIGS, threads=(1, None), updates: int = 2) -> list[dict]:
    """Rows for `jepa-bench bench`: per configuration and thread setting, training SPS, the
    update's time, FLOPs and MFU, and FLOPs per env step (rollout + update)."""
    rows = []
    for n in threads:
        with num_threads(n):
            for name in configs:
                trainer = make_trainer(name)
                prof = update_profile(trainer)
                roll = rollout_flops_per_step(trainer)
                sps = training_sps(trainer, updates=updates)
                rows.append({"config": name, "threads": torch.get_num_threads(),
                             "train_sps": sps["sps"], "update_s": prof["update_seconds"],
                             "mflop_per_env_step": (roll + prof["flops_per_env_step_update"]) / 1e6,
                             "update_gflops": prof["achieved_flops"] / 1e9,
                             "peak_gflops": prof["matmul_peak_flops"] / 1e9, "mfu": prof["mfu"]})
    return rows


def format_table(rows: list[dict]) -> str:
    import pandas as pd

    from jepa_bench.metrics import markdown_table
    cols = ["config", "threads", "train_sps", "update_s", "mflop_per_env_step", "update_gflops",
            "peak_gflops", "mfu"]
    return markdown_table(pd.DataFrame(rows, columns=cols)).rstrip("\n")


# --- the calibrated defaults: one configuration, measured in one process ---------------------------

def _spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def sample_minibatch(trainer: Trainer, buf: dict, seed: int = 0):
    """One minibatch of the calibrated size drawn from a real rollout, from the batch learn()
    draws its minibatches from (Trainer.batch: advantages and returns from GAE)."""
    from jepa_bench.rl.agent import Minibatch
    idx = torch.randperm(trainer.cfg.batch_size, generator=torch.Generator().manual_seed(seed))
    idx = idx[:trainer.cfg.minibatch_size].to(trainer.device)
    return Minibatch(**{k: v[idx] for k, v in trainer.batch(buf).items()})


class Stepper:
    """The trainer's own minibatch step (jepa_bench.rl.trainer.minibatch_step: loss, backward,
    clip, Adam, EMA) on its own agent and optimiser, so that variants can be timed side by side
    without touching each other. A change to the step reaches every variant."""

    def __init__(self, agent, cfg: TrainConfig, loss_fn=None, optimizer_state=None):
        from jepa_bench.rl.agent import minibatch_loss
        self.agent, self.cfg = agent, cfg
        self.loss_fn = loss_fn or minibatch_loss
        self.optimizer = make_optimizer(agent)
        if optimizer_state is not None:
            self.optimizer.load_state_dict(optimizer_state)

    def __call__(self, mb) -> dict:
        return minibatch_step(self.agent, self.optimizer, mb, loss_fn=self.loss_fn)[0]


class AutocastEncoder(torch.nn.Module):
    """Runs the wrapped encoder under bf16 autocast and returns a float32 embedding; the weights
    stay float32 (autocast casts them per op), so the optimiser, the losses and the EMA stay
    float32. Wrap the online and the EMA encoder alike (parameter names must match)."""

    def __init__(self, inner: torch.nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        with torch.autocast(obs.device.type, dtype=torch.bfloat16):
            out = self.inner(obs)
        return out.float()


def _vit_blocks(agent):
    from jepa_bench.rl.vit import ViTEncoder
    for enc in (agent.encoder, agent.target_encoder):
        if isinstance(enc, ViTEncoder):
            yield from enc.blocks


def lever_variants(trainer: Trainer, compile_loss: bool = True) -> tuple[dict, dict]:
    """The variants of one minibatch step to time against the baseline (today's code), each on
    its own deep copy of the trainer's agent and optimiser state. Returns (variants, notes);
    a variant that cannot run here is left out with its reason in notes."""
    import copy

    from jepa_bench.rl.agent import minibatch_loss
    cfg, state = trainer.cfg, trainer.optimizer.state_dict()

    def clone():
        return copy.deepcopy(trainer.agent)

    variants, notes = {"baseline": Stepper(clone(), cfg, optimizer_state=state)}, {}
    if resolve_precision("bf16", trainer.device) == "bf16":
        agent = clone()  # TrainConfig.precision='bf16': bf16 matmuls, attention in fp32
        agent.precision = "bf16"
        variants["precision_bf16"] = Stepper(agent, cfg, optimizer_state=state)
        agent = clone()  # the plain autocast: attention in bf16 as well
        agent.encoder = AutocastEncoder(agent.encoder)
        agent.target_encoder = AutocastEncoder(agent.target_encoder)
        variants["bf16_autocast_all"] = Stepper(agent, cfg, optimizer_state=state)
    else:
        notes["precision_bf16"] = f"skipped: no native bf16 here ({cpu_bf16_flags()})"
    if cfg.obs_type == "pixels" and cfg.encoder == "vit":
        for heads in (2, 1):
            if heads < cfg.heads and cfg.dim % heads == 0:
                agent = clone()
                for blk in _vit_blocks(agent):
                    blk.heads = heads  # same weights, wider heads: a different model
                variants[f"heads_{heads}"] = Stepper(agent, cfg, optimizer_state=state)
        agent = clone()
        for blk in _vit_blocks(agent):
            blk.attention = "bmm"  # vit.bmm_attention: the same maths as SDPA, other kernels
        variants["attention_bmm_softmax"] = Stepper(agent, cfg, optimizer_state=state)
    if compile_loss:
        import shutil
        if not (shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")):
            notes["compile_loss"] = "skipped: no C++ compiler for inductor's CPU backend"
        else:
            variants["compile_loss"] = Stepper(clone(), cfg, optimizer_state=state,
                                               loss_fn=torch.compile(minibatch_loss))
    return variants, notes


def y_encoder_forward(trainer: Trainer):
    """The part of a minibatch step that recomputes the EMA y-encoder on next_obs."""
    from jepa_bench.rl.agent import target_embedding
    return lambda mb: target_embedding(trainer.agent, mb.next_obs)


def lever_table(trainer: Trainer, rounds: int = 7, steps: int = 3, compile_loss: bool = True,
                rollout_batch: int | None = None) -> dict:
    """Time ratios against today's minibatch step, interleaved in this process.

    Each round times `steps` minibatch steps of every variant in turn (baseline first, then
    the others, order rotated every round), so the machine's drift hits all alike; a variant's
    ratio in a round is its time over the baseline's time in that round. Reported: the median
    and the range of the per-round ratios. Also the y-encoder forward's share of the baseline's
    step, and bf16 against float32 for the rollout's forward (batch = num_envs)."""
    buf = trainer.collect()
    mb = sample_minibatch(trainer, buf)
    variants, notes = lever_variants(trainer, compile_loss=compile_loss)
    compile_s = None
    if "compile_loss" in variants:
        t0 = time.perf_counter()
        try:
            variants["compile_loss"](mb)  # compiles the forward and the backward graph
            compile_s = time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001 - report why, measure the rest
            notes["compile_loss"] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0]}"
            del variants["compile_loss"]
    y_forward = y_encoder_forward(trainer)
    fns = {name: (lambda s=s: s(mb)) for name, s in variants.items()}
    fns["y_encoder_forward"] = lambda: y_forward(mb)
    # rollout's forward, fp32 against bf16 autocast (the policy's batch: one obs per env)
    obs = buf["obs"][0]
    act32 = trainer.agent.act
    if "bf16_autocast_all" in variants:
        act16 = variants["bf16_autocast_all"].agent.act
        fns["rollout_act_fp32"] = lambda: act32(obs)
        fns["rollout_act_bf16"] = lambda: act16(obs)
    for fn in fns.values():  # warm-up: first calls allocate and pick kernels
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            n = steps * (10 if name.startswith("rollout_act") else 1)
            t0 = time.perf_counter()
            for _ in range(n):
                fns[name]()
            _sync(trainer.device)
            times[name].append((time.perf_counter() - t0) / n)
    base = times["baseline"]
    rows = []
    for name in variants:
        if name != "baseline":
            rows.append({"lever": name, **_spread([t / b for t, b in zip(times[name], base)])})
    share = [t / b for t, b in zip(times["y_encoder_forward"], base)]
    rows.append({"lever": "y_encoder_forward_share", **_spread(share)})
    if "rollout_act_bf16" in times:
        rows.append({"lever": "rollout_act_bf16", **_spread(
            [a / b for a, b in zip(times["rollout_act_bf16"], times["rollout_act_fp32"])])})
    return {"rows": rows, "notes": notes, "compile_seconds": compile_s,
            "baseline_step_s": _spread(base), "rounds": rounds, "steps": steps,
            "minibatch": trainer.cfg.minibatch_size}


def minibatch_step_flops(trainer: Trainer, mb) -> int:
    """Model FLOPs of one optimiser step (forward and backward of the minibatch loss)."""
    step = Stepper(__import__("copy").deepcopy(trainer.agent), trainer.cfg)
    return count_flops(lambda: step(mb))


def v2_profile(config: str = "j1g1r0", updates: int = 2, seed: int = 0,
               device: str = "cpu") -> dict:
    """The calibrated defaults (TrainConfig as `resolve` gives it: settings set v2) on the
    current thread setting: env steps/s of whole updates (rollout with rendering + update),
    the rollout's and the update's time, model FLOPs per env step, and MFU of the update and of
    the whole step against a float32 matmul peak measured between the updates.

    Update FLOPs are one minibatch step's count times epochs x minibatches (every minibatch has
    the same shape, so this is the count of learn(); tests check it against counting learn)."""
    trainer = make_trainer(config, seed=seed, device=device)
    cfg = trainer.cfg
    roll_flops = count_flops(trainer.collect) / cfg.batch_size  # also warms the rollout
    buf = trainer.collect()
    mb = sample_minibatch(trainer, buf)
    step_flops = minibatch_step_flops(trainer, mb)
    update_flops = step_flops * cfg.update_epochs * cfg.num_minibatches
    collect_s, learn_s, peaks = [], [], []
    for _ in range(updates):
        t0 = time.perf_counter()
        buf = trainer.collect()
        _sync(trainer.device)
        t1 = time.perf_counter()
        trainer.learn(buf)
        _sync(trainer.device)
        t2 = time.perf_counter()
        collect_s.append(t1 - t0)
        learn_s.append(t2 - t1)
        peaks.append(matmul_peak(repeats=10))
    steps = [c + u for c, u in zip(collect_s, learn_s)]
    per_step = roll_flops + update_flops / cfg.batch_size
    return {
        "config": config, "threads": torch.get_num_threads(),
        "update_epochs": cfg.update_epochs, "num_minibatches": cfg.num_minibatches,
        "minibatch_size": cfg.minibatch_size, "updates": updates,
        "sps": _spread([cfg.batch_size / s for s in steps]),
        "rollout_s": _spread(collect_s), "update_s": _spread(learn_s),
        "rollout_share": _spread([c / s for c, s in zip(collect_s, steps)]),
        "mflop_per_env_step": per_step / 1e6,
        "mflop_per_env_step_rollout": roll_flops / 1e6,
        "mflop_per_env_step_update": update_flops / cfg.batch_size / 1e6,
        "matmul_peak_gflops": _spread([p / 1e9 for p in peaks]),
        "mfu_update": _spread([update_flops / u / p for u, p in zip(learn_s, peaks)]),
        "mfu_step": _spread([per_step * cfg.batch_size / s / p for s, p in zip(steps, peaks)]),
    }


def format_profile(p: dict) -> str:
    def m(key, scale=1.0, fmt="{:.3g}"):
        s = p[key]
        return (fmt.format(s["median"] * scale) + " (" + fmt.format(s["min"] * scale) + "–"
                + fmt.format(s["max"] * scale) + ")")
    lines = [f"calibrated defaults: {p['config']}, {p['threads']} thread(s), "
             f"{p['update_epochs']} epochs x {p['num_minibatches']} minibatches of "
             f"{p['minibatch_size']}, {p['updates']} timed update(s); median (min–max)",
             "| quantity | value |", "|---|---|",
             f"| env steps/s (rollout + update) | {m('sps')} |",
             f"| rollout (s) | {m('rollout_s')} |",
             f"| update (s) | {m('update_s')} |",
             f"| rollout share of a step | {m('rollout_share')} |",
             f"| MFLOP per env step: rollout + update | {p['mflop_per_env_step_rollout']:.3g} + "
             f"{p['mflop_per_env_step_update']:.3g} = {p['mflop_per_env_step']:.3g} |",
             f"| float32 matmul peak, 512² (GFLOP/s) | {m('matmul_peak_gflops')} |",
             f"| MFU of the update | {m('mfu_update')} |",
             f"| MFU of the whole step | {m('mfu_step')} |"]
    return "\n".join(lines)


_LEVER_TEXT = {
    "precision_bf16": "(a) precision='bf16': bf16 autocast of the x- and y-encoder matmuls, "
                      "attention, weights, losses, Adam, EMA in fp32",
    "bf16_autocast_all": "(a) plain bf16 autocast of the encoders, attention in bf16 too",
    "heads_2": "(c) 2 heads of width 32 (a different model)",
    "heads_1": "(c) 1 head of width 64 (a different model)",
    "attention_bmm_softmax": "(c) attention as bmm + softmax + bmm instead of fused SDPA",
    "compile_loss": "(c) torch.compile (inductor) of the whole minibatch loss",
    "y_encoder_forward_share": "(b) y-encoder forward on next_obs: share of the step",
    "rollout_act_bf16": "(a) rollout forward (batch num_envs), bf16 / fp32",
}


def format_levers(t: dict) -> str:
    lines = [f"levers: time ratio against today's minibatch step ({t['minibatch']} samples: "
             f"loss, backward, clip, Adam, EMA), {t['rounds']} interleaved rounds of "
             f"{t['steps']} steps; < 1 is faster. Baseline step: "
             f"{t['baseline_step_s']['median'] * 1e3:.1f} ms median "
             f"({t['baseline_step_s']['min'] * 1e3:.1f}–{t['baseline_step_s']['max'] * 1e3:.1f})",
             "| lever | ratio, median | min – max |", "|---|---|---|"]
    for r in t["rows"]:
        lines.append(f"| {_LEVER_TEXT.get(r['lever'], r['lever'])} | {r['median']:.3f} | "
                     f"{r['min']:.3f} – {r['max']:.3f} |")
    if t["compile_seconds"] is not None:
        lines.append(f"compile time of the loss (forward + backward graphs): "
                     f"{t['compile_seconds']:.1f} s")
    for name, why in t["notes"].items():
        lines.append(f"{name}: {why}")
    return "\n".join(lines)


# --- threads and pairing: whole training processes, as the pipeline runs them --------------------

PAIRING_LAYOUTS = {
    "pair_1thread": (1, 1),   # two one-thread runs side by side (what `snakemake -c2` does)
    "single_2threads": (2,),  # one run alone with two threads
    "single_1thread": (1,),   # one run alone with one thread
}
"""Layout name -> the torch thread count of each training process started at once."""


def _train_process(config: str, steps: int, threads: int, out: Path, seed: int):
    import subprocess
    import sys
    return subprocess.Popen(
        [sys.executable, "-m", "jepa_bench.cli", "train", "--config", config, "--seed", str(seed),
         "--total-steps", str(steps), "--threads", str(threads), "--out", str(out), "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _run_sps(run_dir: Path) -> float:
    """A finished run's env steps/s over its training loop (metrics.csv: last env_step over
    its wall_time), so process start-up and imports do not count."""
    import csv
    with open(run_dir / "metrics.csv", newline="", encoding="utf-8") as f:
        last = list(csv.DictReader(f))[-1]
    return float(last["env_step"]) / float(last["wall_time"])


def pairing_table(config: str = "j1g1r0", steps: int = 3000, rounds: int = 3) -> dict:
    """Threads and pairing on the default settings: each layout of PAIRING_LAYOUTS started as
    real `jepa-bench train` processes of ``steps`` env steps, in interleaved rounds (order
    rotated each round). Per layout: env steps/s of each process and of the machine (their
    sum), median (min-max) over rounds; and the machine's throughput of the pair over that of
    one two-thread run, per round."""
    import tempfile
    names = list(PAIRING_LAYOUTS)
    per_round: dict[str, list[dict]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory(prefix="jepa-bench-pairing-") as tmp:
        for r in range(rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                outs = [Path(tmp) / f"{name}-{r}-{i}" for i in range(len(PAIRING_LAYOUTS[name]))]
                procs = [_train_process(config, steps, t, o, seed=i)
                         for i, (t, o) in enumerate(zip(PAIRING_LAYOUTS[name], outs))]
                for p in procs:
                    _, err = p.communicate()
                    if p.returncode:
                        raise RuntimeError(f"pairing: a training process failed: {err.strip()}")
                sps = [_run_sps(o) for o in outs]
                per_round[name].append({"process": statistics.mean(sps), "machine": sum(sps)})
    rows = [{"layout": n, "threads": list(PAIRING_LAYOUTS[n]),
             "process_sps": _spread([x["process"] for x in per_round[n]]),
             "machine_sps": _spread([x["machine"] for x in per_round[n]])} for n in names]
    ratio = [p["machine"] / s["machine"]
             for p, s in zip(per_round["pair_1thread"], per_round["single_2threads"])]
    return {"config": config, "steps": steps, "rounds": rounds, "rows": rows,
            "pair_over_two_threads": _spread(ratio)}


def format_pairing(t: dict) -> str:
    lines = [f"threads and pairing: {t['config']}, {t['steps']} env steps per process, "
             f"{t['rounds']} interleaved rounds; median (min – max)",
             "| layout | threads per process | env steps/s per process | env steps/s, machine |",
             "|---|---|---|---|"]
    for r in t["rows"]:
        p, m = r["process_sps"], r["machine_sps"]
        lines.append(f"| {r['layout']} | {', '.join(map(str, r['threads']))} | "
                     f"{p['median']:.0f} ({p['min']:.0f} – {p['max']:.0f}) | "
                     f"{m['median']:.0f} ({m['min']:.0f} – {m['max']:.0f}) |")
    q = t["pair_over_two_threads"]
    lines.append(f"machine throughput, two one-thread runs side by side / one two-thread run: "
                 f"{q['median']:.2f} ({q['min']:.2f} – {q['max']:.2f})")
    return "\n".join(lines)


def environment() -> dict:
    """Date, git revision, CPU model, torch and bf16 support: the header of a measurement."""
    import datetime

    info = machine_info()
    flags = cpu_bf16_flags()
    bf16 = [k for k in ("avx512_bf16", "amx_bf16") if flags[k]]
    return {"date": datetime.datetime.now().astimezone().isoformat(timespec="minutes"),
            "git_rev": git_revision()[:12], "cpu": info["cpu"],
            "logical_cpus": info["logical_cpus"], "torch": torch.__version__,
            "torch_cpu_capability": flags["torch_cpu_capability"],
            "bf16": ",".join(bf16) + (" (oneDNN: yes)" if flags["onednn_bf16"] else
                                      " (oneDNN: no)") if bf16 else "none"}
