"""Figures are written as non-empty PNG and PDF files, also from awkward summaries."""

import json

import numpy as np
import pandas as pd

from jepa_bench.aggregate import summarise
from jepa_bench.metrics import METRIC_COLUMNS
from jepa_bench.plots import FIGURES, FORMATS, make_figures



def write_run(root, name, seed, *, with_encoder=True):
    run = root / name / f"seed{seed}"
    run.mkdir(parents=True)
    steps = np.arange(50, 501, 50)
    rng = np.random.default_rng(seed)
    m = pd.DataFrame({c: 0.5 for c in METRIC_COLUMNS} | {
        "update": np.arange(1, len(steps) + 1), "env_step": steps, "episodic_return": np.nan,
        "embed_var": np.geomspace(0.3, 1e-9 if name == "j1g0r0" else 0.05, len(steps)),
        "embed_rank": np.linspace(5, 2, len(steps)), "jepa_loss": 1.0 / steps,
    })[list(METRIC_COLUMNS)]
    if not with_encoder:
        m[["embed_var", "embed_rank", "jepa_loss"]] = np.nan
    m.to_csv(run / "metrics.csv", index=False)
    ep = np.arange(20, 501, 20)
    pd.DataFrame({"env_step": ep, "return": 10 + rng.integers(0, 30, len(ep)), "length": 1}).to_csv(
        run / "episodes.csv", index=False)
    (run / "run.json").write_text(json.dumps({"config_name": name, "seed": seed,
                                              "status": "complete", "env_steps": 500}))


def summary(tmp_path, configs, seeds):
    for c in configs:
        for s in seeds:
            write_run(tmp_path / "runs", c, s, with_encoder=c != "state")
    summarise(tmp_path / "runs", configs, seeds, 500, tmp_path / "summary", baseline_episodes=20)
    return tmp_path / "summary"


def check_files(paths, out):
    assert paths == [out / f"{stem}.{fmt}" for stem in FIGURES for fmt in FORMATS]
    for p in paths:
        head = p.read_bytes()[:8]
        assert p.stat().st_size > 2000
        assert head.startswith(b"\x89PNG") if p.suffix == ".png" else head.startswith(b"%PDF")
    assert not list(out.glob("*.tmp"))


def test_all_figures_written_as_png_and_pdf(tmp_path):
    s = summary(tmp_path, ["j0g1r0", "j1g1r0", "j1g0r0", "j1g0r1", "state"], [0, 1])
    out = tmp_path / "figures"
    check_files(make_figures(s, out), out)


def test_single_seed_and_metric_without_data(tmp_path):
    s = summary(tmp_path, ["state"], [0])  # no encoder: embedding figures have no data
    out = tmp_path / "figures"
    check_files(make_figures(s, out), out)


def _png_width(path):
    return int.from_bytes(path.read_bytes()[16:20], "big")  # IHDR width


def test_a_long_legend_goes_beside_the_axes(tmp_path):
    """Up to LEGEND_INSIDE_MAX entries the legend sits in the axes; the full grid's ten
    configurations (plus the random line) would cover the curves, so the figure grows a column."""
    few = make_figures(summary(tmp_path / "few", ["j0g1r0", "j1g1r0"], [0]), tmp_path / "f1")
    many_configs = ["j0g0r0", "j0g0r1", "j0g1r0", "j0g1r1", "j1g0r0", "j1g0r1", "j1g1r0"]
    many = make_figures(summary(tmp_path / "many", many_configs, [0]), tmp_path / "f2")
    widths = {p.stem: _png_width(p) for p in few if p.suffix == ".png"}
    assert all(_png_width(p) > widths[p.stem] * 1.2 for p in many if p.suffix == ".png")
