"""Figures are written as non-empty PNG and PDF files, also from awkward summaries."""

import os

import numpy as np
import pytest
import seaborn as sns

from jepa_bench.analysis.aggregate import summarise
from jepa_bench.layout import RunPaths
from jepa_bench.metrics import atomic_write_text
from jepa_bench.analysis.plots import FIGURES, FORMATS, line_colours, make_figures, seed_band


@pytest.fixture
def summary(run_folder):
    """summary(tmp_path, configs, seeds): run folders of 500 steps (``state`` without encoder
    metrics; j1g0r0's embed_var falls to 1e-9) and their summary tables."""
    steps = np.arange(50, 501, 50)
    episodes = np.arange(20, 501, 20)

    def encoder_metrics(config):
        if config == "state":
            return dict(embed_var=np.nan, embed_rank=np.nan, jepa_loss=np.nan)
        return dict(embed_var=np.geomspace(0.3, 1e-9 if config == "j1g0r0" else 0.05, len(steps)),
                    embed_rank=np.linspace(5, 2, len(steps)), jepa_loss=1.0 / steps)

    def make(tmp_path, configs, seeds):
        for c in configs:
            for s in seeds:
                returns = 10 + np.random.default_rng(s).integers(0, 30, len(episodes))
                run_folder(RunPaths.of(tmp_path / "runs", c, s), config_name=c, seed=s,
                           metric_steps=steps, episode_steps=episodes, episode_returns=returns,
                           **encoder_metrics(c))
        summarise(tmp_path / "runs", configs, seeds, 500, tmp_path / "summary",
                  baseline_episodes=20)
        return tmp_path / "summary"
    return make


def check_files(paths, out):
    assert paths == [out / f"{stem}.{fmt}" for stem in FIGURES for fmt in FORMATS]
    for p in paths:
        head = p.read_bytes()[:8]
        assert p.stat().st_size > 2000
        assert head.startswith(b"\x89PNG") if p.suffix == ".png" else head.startswith(b"%PDF")
    assert not list(out.glob("*.tmp"))


def test_all_figures_written_as_png_and_pdf(tmp_path, summary):
    s = summary(tmp_path, ["j0g1r0", "j1g1r0", "j1g0r0", "j1g0r1", "state"], [0, 1])
    out = tmp_path / "figures"
    check_files(make_figures(s, out), out)


def test_single_seed_and_metric_without_data(tmp_path, summary):
    s = summary(tmp_path, ["state"], [0])  # no encoder: embedding figures have no data
    out = tmp_path / "figures"
    check_files(make_figures(s, out), out)


def _png_width(path):
    return int.from_bytes(path.read_bytes()[16:20], "big")  # IHDR width


def test_a_long_legend_goes_beside_the_axes(tmp_path, summary):
    """Up to LEGEND_INSIDE_MAX entries the legend sits in the axes; the full grid's ten
    configurations (plus the random line) would cover the curves, so the figure grows a column."""
    few = make_figures(summary(tmp_path / "few", ["j0g1r0", "j1g1r0"], [0]), tmp_path / "f1")
    many_configs = ["j0g0r0", "j0g0r1", "j0g1r0", "j0g1r1", "j1g0r0", "j1g0r1", "j1g1r0"]
    many = make_figures(summary(tmp_path / "many", many_configs, [0]), tmp_path / "f2")
    widths = {p.stem: _png_width(p) for p in few if p.suffix == ".png"}
    assert all(_png_width(p) > widths[p.stem] * 1.2 for p in many if p.suffix == ".png")


def test_figures_get_the_same_file_mode_as_every_other_output(tmp_path, summary):
    """Figures were once written 0600 (a mkstemp file renamed into place): readable by no one
    else, unlike the tables and reports beside them."""
    s = summary(tmp_path, ["j1g1r0"], [0, 1])
    before = os.umask(0o022)
    try:
        paths = make_figures(s, tmp_path / "figures")
        atomic_write_text(tmp_path / "table.csv", "a\n")
    finally:
        os.umask(before)
    modes = {oct(p.stat().st_mode & 0o777) for p in paths}
    assert modes == {oct((tmp_path / "table.csv").stat().st_mode & 0o777)} == {"0o644"}


def test_the_same_summary_draws_the_same_bytes(tmp_path, summary):
    s = summary(tmp_path, ["j1g1r0", "j1g0r0"], [0, 1])
    one, two = make_figures(s, tmp_path / "one"), make_figures(s, tmp_path / "two")
    assert [p.read_bytes() for p in one] == [p.read_bytes() for p in two]


def test_seed_band_is_a_geometric_mean_on_a_log_axis_and_ignores_non_positive_values():
    import pandas as pd

    curves = pd.DataFrame({"seed": [0, 0, 1, 1, 2, 2], "env_step": [1000, 2000] * 3,
                           "embed_var": [1e-2, 0.0, 1e-4, 1e-6, 1.0, 1e-6]})
    steps, values, mean, low, high = seed_band(curves, "embed_var", log=True)
    assert steps.tolist() == [1000.0, 2000.0] and values.shape == (3, 2)
    assert np.isnan(values[0, 1])  # 0 has no logarithm: missing, not -inf
    assert mean == pytest.approx([1e-2, 1e-6])  # geometric means: 10^((-2 - 4 + 0) / 3), 10^-6
    assert np.all(low <= mean) and np.all(mean <= high) and np.all(np.isfinite(low))
    _, _, linear, _, _ = seed_band(curves, "embed_var", log=False)
    assert linear[0] == pytest.approx((1e-2 + 1e-4 + 1.0) / 3)


def test_eleven_lines_get_eleven_colours_and_ten_keep_the_colour_blind_palette():
    # the extended grid draws 11 configurations; a 10-colour palette repeated its first colour
    assert len({tuple(c) for c in line_colours(11)}) == 11
    assert line_colours(4) == sns.color_palette("colorblind", 4)
    with pytest.raises(ValueError, match="21 lines"):
        line_colours(21)
