"""jepa-bench: a reproducibility harness for JEPA + PPO on pixel CartPole.

The package in layers, as its folders show them:

    config, layout, metrics, errors   the contracts every layer shares (no torch)
    rl/         the torch side: envs, renderer, encoders, JEPA parts, PPO/A2C, the agent,
                the trainer (the one update), a run folder's life, the machine record, the probe
    analysis/   statistics, verdicts, the aggregate, figures, claims, run comparison (no torch)
    studies/    recovery, theory audit, calibration, precision, probe and settings reports
                (no torch)
    tools/      the throughput benchmark and the rerun check (use rl/)
    cli.py, workflow_config.py   the command line and the Snakemake helpers: thin shells

Importing the package registers the pixel CartPole with gymnasium by name only: the entry points
are "module:attribute" strings, so torch and the environment code load when an env is first
made, not here. Nothing in analysis/ or studies/ imports rl/; tests/unit/test_imports.py holds
the layers to that.
"""

__version__ = "0.1.0"

ENV_ID = "jepa_bench/PixelCartPole-v1"


def register_envs() -> None:
    """Register ENV_ID with gymnasium (idempotent, lazy: jepa_bench.rl.envs is imported by
    gymnasium when the env is first made)."""
    import gymnasium as gym

    if ENV_ID in gym.registry:
        return
    gym.register(id=ENV_ID, entry_point="jepa_bench.rl.envs:PixelCartPoleEnv",
                 vector_entry_point="jepa_bench.rl.envs:PixelCartPoleVectorEnv")


register_envs()
