"""Throughput of the model and the training loop (pytest-benchmark).

    pytest tests/benchmarks --benchmark-enable                      # timed, with a table
    pytest tests/benchmarks --benchmark-enable --benchmark-autosave  # save JSON for comparisons
    pytest-benchmark compare                                          # between saved revisions

In the default test run (`--benchmark-disable`) every benchmark runs once, untimed, so the suite
cannot rot; the assertions check what each measured call returned.
"""

import pytest
import torch

from jepa_bench.tools import bench
from jepa_bench.rl.agent import build_encoder
from jepa_bench.config import DEFAULT_SETTINGS, PAPER_CONFIGS, resolve


# every test here on one torch thread (tests/conftest.py's fixture)
pytestmark = pytest.mark.usefixtures("one_thread")


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
    """One full PPO update under the default settings set (v2: 8 epochs x 8 minibatches of 125).
    FLOPs: one minibatch step's count x epochs x minibatches (the count of learn(), see
    tests/unit/test_bench.py), so the untimed run stays one update long."""
    trainer = bench.make_trainer(config)
    cfg = trainer.cfg
    buf = trainer.collect()
    update_flops = (bench.minibatch_step_flops(trainer, bench.sample_minibatch(trainer, buf))
                    * cfg.update_epochs * cfg.num_minibatches)
    before = [p.detach().clone() for p in trainer.agent.encoder.parameters()]
    stats = benchmark.pedantic(trainer.learn, args=(buf,), rounds=2, warmup_rounds=0)
    assert set(stats) >= {"actor_loss", "critic_loss", "jepa_loss", "embed_var", "embed_rank"}
    moved = any(not torch.equal(a, b) for a, b in zip(before, trainer.agent.encoder.parameters()))
    assert moved == (cfg.jepa or cfg.rl_grad or cfg.var_reg)
    benchmark.extra_info["settings"] = DEFAULT_SETTINGS
    benchmark.extra_info["minibatches"] = f"{cfg.update_epochs}x{cfg.num_minibatches}x{cfg.minibatch_size}"
    benchmark.extra_info["mflop_per_env_step_update"] = update_flops / cfg.batch_size / 1e6
    if benchmark.stats:
        median = benchmark.stats.stats.median
        peak = bench.matmul_peak()
        benchmark.extra_info["update_s"] = median
        benchmark.extra_info["matmul_peak_gflops"] = peak / 1e9
        benchmark.extra_info["mfu"] = update_flops / median / peak


@pytest.mark.benchmark(group="rollout")
def test_calibrated_rollout(benchmark):
    """One rollout of j1g1r0 under the default settings (8 envs x 125 steps: rendering, the
    x-encoder forward at batch 8, the return scaler): env steps/s and FLOPs per env step."""
    trainer = bench.make_trainer("j1g1r0")
    flops = bench.count_flops(trainer.collect) / trainer.cfg.batch_size
    buf = benchmark.pedantic(trainer.collect, rounds=3, warmup_rounds=0)
    assert buf["obs"].shape[:2] == (trainer.cfg.num_steps, trainer.cfg.num_envs)
    benchmark.extra_info["mflop_per_env_step_rollout"] = flops / 1e6
    if benchmark.stats:
        median = benchmark.stats.stats.median
        benchmark.extra_info["env_steps_per_s"] = trainer.cfg.batch_size / median
        benchmark.extra_info["mfu"] = flops * trainer.cfg.batch_size / median / bench.matmul_peak()


@pytest.mark.benchmark(group="calibrated")
def test_calibrated_step_profile(benchmark):
    """The whole step of j1g1r0 under the default settings, as `jepa-bench bench --profile`
    reports it: env steps/s, rollout and update time, FLOPs per env step, MFU."""
    prof = benchmark.pedantic(bench.v2_profile, args=("j1g1r0",), kwargs={"updates": 1},
                              rounds=1, warmup_rounds=0)
    assert prof["update_epochs"] * prof["num_minibatches"] == 64 and prof["minibatch_size"] == 125
    for key in ("mflop_per_env_step", "mflop_per_env_step_rollout", "mflop_per_env_step_update"):
        benchmark.extra_info[key] = prof[key]
    for key in ("sps", "rollout_s", "update_s", "rollout_share", "mfu_update", "mfu_step",
                "matmul_peak_gflops"):
        benchmark.extra_info[key] = prof[key]["median"]
    assert 0 < prof["mfu_update"]["median"] < 1 and prof["sps"]["median"] > 0


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
