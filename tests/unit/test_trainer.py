"""jepa_bench.rl.trainer: the return scaler by hand (the trainer's minibatch step is checked
against the benchmark's in test_bench.py and its diagnostic in test_grad_diagnostic.py)."""

import math

import pytest
import torch

from jepa_bench.rl.trainer import ReturnScaler, flat


def test_return_scaler_by_hand():
    """Two envs, gamma 0.5: the running variance of the discounted return after each step."""
    scaler = ReturnScaler(2, 0.5, torch.device("cpu"), eps=0.0)
    r = torch.tensor([1.0, 3.0])
    out = scaler(r, torch.tensor([False, True]))
    # disc = [1, 3]: batch mean 2, var 1; prior (mean 0, var 1, count 1e-4)
    c = 1e-4
    mean = 2 * 2 / (c + 2)
    var = (1 * c + 1 * 2 + 4 * c * 2 / (c + 2)) / (c + 2)
    torch.testing.assert_close(out, r / math.sqrt(var), rtol=1e-6, atol=0)
    assert float(scaler.mean) == pytest.approx(mean)
    # the second env's episode ended: its discounted return restarts, the first's is discounted
    torch.testing.assert_close(scaler.disc, torch.tensor([1.0, 0.0], dtype=torch.float64))
    scaler(r, torch.tensor([False, False]))
    torch.testing.assert_close(scaler.disc, torch.tensor([1.5, 3.0], dtype=torch.float64))


def test_flat_joins_time_and_envs():
    x = torch.arange(24).reshape(3, 2, 4)
    assert flat(x).shape == (6, 4) and torch.equal(flat(x)[1], x[0, 1])
