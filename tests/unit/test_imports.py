"""`import jepa_bench` and the analysis modules load no torch (a fresh interpreter each time, so
that nothing imported by other tests counts)."""

import subprocess
import sys

import pytest

LIGHT = ["jepa_bench", "jepa_bench.layout", "jepa_bench.metrics", "jepa_bench.stats",
         "jepa_bench.verdicts", "jepa_bench.aggregate", "jepa_bench.claims", "jepa_bench.plots",
         "jepa_bench.recovery", "jepa_bench.compare", "jepa_bench.theory",
         "jepa_bench.workflow_config", "jepa_bench.calibration", "jepa_bench.probe_report",
         "jepa_bench.settings_report"]


def _torch_after(modules: list[str]) -> bool:
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip() == "True"


@pytest.mark.parametrize("module", LIGHT)
def test_module_loads_without_torch(module):
    assert not _torch_after([module])


def test_the_env_is_registered_by_name_and_loads_torch_when_made():
    code = ("import sys, gymnasium as gym, jepa_bench\n"
            "assert jepa_bench.ENV_ID in gym.registry and 'torch' not in sys.modules\n"
            "env = gym.make(jepa_bench.ENV_ID)\n"
            "obs, _ = env.reset(seed=0)\n"
            "print(obs.shape, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["(3,", "24,", "96)", "True"]
