"""Throughput measurements shared by the pytest-benchmark suite and `jepa-bench bench`.

Every figure is measured, never assumed: the matrix-multiply peak is timed in the same process
as the update it is compared with, and model FLOPs are counted by torch.utils.flop_counter.
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager

import torch
from torch.utils.flop_counter import FlopCounterMode

from jepa_bench.config import PAPER_CONFIGS, TrainConfig, resolve
from jepa_bench.train import Trainer


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


def encoder_throughput(cfg: TrainConfig, batch: int = 256, repeats: int = 10) -> dict:
    """Samples/s of the x-encoder forward and forward+backward on random frame stacks."""
    from jepa_bench.agent import build_encoder
    torch.manual_seed(0)
    enc = build_encoder(cfg)
    obs = torch.randint(0, 256, (batch, 3, cfg.height, cfg.width), dtype=torch.uint8)

    def fwd():
        with torch.no_grad():
            enc(obs)

    def fwd_bwd():
        enc.zero_grad(set_to_none=True)
        enc(obs).square().mean().backward()

    t_f, t_fb = statistics.median(timed(fwd, repeats)), statistics.median(timed(fwd_bwd, repeats))
    return {"batch": batch, "forward_sps": batch / t_f, "forward_backward_sps": batch / t_fb,
            "forward_flops_per_sample": count_flops(fwd) / batch}


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
    cols = ["config", "threads", "train_sps", "update_s", "mflop_per_env_step", "update_gflops",
            "peak_gflops", "mfu"]
    fmt = lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)
