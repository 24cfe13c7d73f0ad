"""Throughput of the model and the training loop (pytest-benchmark).

    pytest tests/benchmarks --benchmark-enable                      # timed, with a table
    pytest tests/benchmarks --benchmark-enable --benchmark-autosave  # save JSON for comparisons
    pytest-benchmark compare                                          # between saved revisions

In the default test run (`--benchmark-disable`) every benchmark runs once, untimed, so the suite
cannot rot; the assertions check what each measured call returned.
"""

import pytest
import torch

from jepa_bench import bench
from jepa_bench.agent import build_encoder
from jepa_bench.config import PAPER_CONFIGS, resolve


@pytest.fixture(autouse=True)
def one_thread():
    with bench.num_threads(1):
        yield


@pytest.mark.benchmark(group="encoder")
@pytest.mark.parametrize("mode", ["forward", "forward_backward"])
def test_encoder_samples_per_second(benchmark, mode):
    cfg = resolve("j1g1r0")
    torch.manual_seed(0)
    enc = build_encoder(cfg)
    batch = 256
    obs = torch.randint(0, 256, (batch, 3, cfg.height, cfg.width), dtype=torch.uint8)

    def forward():
        with torch.no_grad():
            return enc(obs)

    def forward_backward():
        enc.zero_grad(set_to_none=True)
        out = enc(obs)
        out.square().mean().backward()
        return out

    fn = forward if mode == "forward" else forward_backward
    out = benchmark.pedantic(fn, rounds=5, warmup_rounds=1)
    assert out.shape == (batch, cfg.dim)
    flops = bench.count_flops(fn)
    benchmark.extra_info["batch"] = batch
    benchmark.extra_info["mflop_per_sample"] = flops / batch / 1e6
    if benchmark.stats:  # None when benchmarks are disabled
        benchmark.extra_info["samples_per_s"] = batch / benchmark.stats.stats.median


@pytest.mark.benchmark(group="update")
@pytest.mark.parametrize("config", PAPER_CONFIGS)
def test_ppo_update(benchmark, config):
    trainer = bench.make_trainer(config)
    buf = trainer.collect()
    before = [p.detach().clone() for p in trainer.agent.encoder.parameters()]
    stats = benchmark.pedantic(trainer.learn, args=(buf,), rounds=2, warmup_rounds=0)
    assert set(stats) >= {"actor_loss", "critic_loss", "jepa_loss", "embed_var", "embed_rank"}
    moved = any(not torch.equal(a, b) for a, b in zip(before, trainer.agent.encoder.parameters()))
    assert moved == (trainer.cfg.jepa or trainer.cfg.rl_grad or trainer.cfg.var_reg)
    flops = bench.count_flops(lambda: trainer.learn(buf))
    benchmark.extra_info["mflop_per_env_step"] = flops / trainer.cfg.batch_size / 1e6
    if benchmark.stats:
        median = benchmark.stats.stats.median
        peak = bench.matmul_peak()
        benchmark.extra_info["matmul_peak_gflops"] = peak / 1e9
        benchmark.extra_info["mfu"] = flops / median / peak


@pytest.mark.benchmark(group="train")
@pytest.mark.parametrize("threads", [1, None], ids=["1thread", "allthreads"])
@pytest.mark.parametrize("config", PAPER_CONFIGS)
def test_training_env_steps_per_second(benchmark, config, threads):
    with bench.num_threads(threads):
        trainer = bench.make_trainer(config)
        start = trainer.global_step
        benchmark.pedantic(trainer.step, rounds=2, warmup_rounds=1)
        steps = trainer.global_step - start
        assert steps > 0 and steps % trainer.cfg.batch_size == 0  # whole updates only
        benchmark.extra_info["threads"] = torch.get_num_threads()
        if benchmark.stats:
            benchmark.extra_info["env_steps_per_s"] = trainer.cfg.batch_size / benchmark.stats.stats.median


def test_matmul_peak_is_measured():
    peak = bench.matmul_peak(n=256, repeats=3)
    assert 1e8 < peak < 1e14
