"""jepa-bench: a reproducibility harness for JEPA + PPO on pixel CartPole.

Importing the package registers the pixel CartPole with gymnasium by name only: the entry points
are "module:attribute" strings, so torch and the environment code load when an env is first
made, not here. The analysis side (metrics, layout, stats, verdicts, aggregate, claims, plots,
recovery, theory, compare) never imports torch, which keeps every `snakemake` call and every
report stage light; tests/unit/test_imports.py holds both to it.
"""

__version__ = "0.1.0"

ENV_ID = "jepa_bench/PixelCartPole-v1"


def register_envs() -> None:
    """Register ENV_ID with gymnasium (idempotent, lazy: jepa_bench.envs is imported by
    gymnasium when the env is first made)."""
    import gymnasium as gym

    if ENV_ID in gym.registry:
        return
    gym.register(id=ENV_ID, entry_point="jepa_bench.envs:PixelCartPoleEnv",
                 vector_entry_point="jepa_bench.envs:PixelCartPoleVectorEnv")


register_envs()
