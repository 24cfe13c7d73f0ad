"""jepa-bench: a reproducibility harness for JEPA + PPO on pixel CartPole."""

__version__ = "0.1.0"

from jepa_bench.envs import register_envs

register_envs()
