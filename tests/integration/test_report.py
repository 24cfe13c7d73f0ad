"""Snakemake's HTML report of the tiny preset (`snakemake --report`), from a real run of the
preset: its results with their captions, labels and provenance, and, opened in a headless
Chromium, the Figure 3 replica as the report shows it (a screenshot under pytest's tmp path)."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("snakemake", reason="snakemake is not installed")
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FIGURE = "figures/fig3_return.png"
# what the report's own viewer does when Figure 3's eye button is clicked: show the image and
# the result's caption (the report keeps `app` and `results` as globals)
SHOW_FIGURE = """<script>
(function show() {
  if (typeof app === "undefined" || !app) { setTimeout(show, 50); return; }
  const path = Object.keys(results).find(p => p.endsWith("%s"));
  app.setView({navbarMode: "resultinfo", content: "img", resultPath: path,
               contentPath: results[path].data_uri});
})();
</script>
</body>""" % FIGURE


@pytest.fixture
def report(tiny_results, snakemake, tmp_path) -> Path:
    """The tiny run's report, built anew for each test (a few seconds)."""
    args, _ = tiny_results
    out = tmp_path / "report.html"
    res = snakemake(*args, "--report", str(out))
    assert res.returncode == 0, res.stderr[-3000:]
    return out


def _results(page: str) -> dict:
    return json.loads(re.search(r"var results = (\{.*?\});\n", page)[1])


@pytest.mark.slow  # needs the session's tiny run (about a minute on 2 cores)
def test_the_report_holds_each_result_with_its_caption_labels_and_provenance(
        report, tiny_results):
    page = report.read_text(encoding="utf-8")
    results = _results(page)
    names = sorted(r["name"] for r in results.values())
    assert names == ["claims.json", "claims.md", "embed_rank.png", "embed_var.png",
                     "fig3_return.png", "jepa_loss.png", "runs.csv", "summary.json"]
    categories = json.loads(re.search(r"var categories = (\{.*?\});\n", page)[1])
    assert {"Figures", "Claims", "Provenance"} <= set(categories)
    figure = next(r for r in results.values() if r["name"] == "fig3_return.png")
    assert "over 2 seeds" in figure["caption"] and "Settings set" in figure["caption"]
    assert figure["labels"] == {"figure": "return (Figure 3)", "settings set": "v2"}
    claims = next(r for r in results.values() if r["name"] == "claims.md")
    assert claims["labels"]["claim 4"] in ("reproduced", "not reproduced", "inconclusive")
    runs = next(r for r in results.values() if r["name"] == "runs.csv")
    _, folder = tiny_results
    rev = json.loads((folder / "runs/j1g1r0/seed0/run.json").read_text())["git_rev"]
    assert runs["labels"]["runs"] == "4, all complete"
    assert f"{rev[:7]}: " in runs["labels"]["git revisions"]
    assert "results_root" in page and "2 configurations" in page  # the workflow description
    assert "System Message" not in page  # no docutils warning printed into a caption


@pytest.mark.slow
def test_headless_chromium_renders_the_figure_3_replica(report, tiny_results, tmp_path, capsys):
    browser = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if browser is None:
        pytest.skip("no headless browser: install Debian's chromium (.ci/run does, as root)")
    page = report.read_text(encoding="utf-8")
    end = page.rindex("</body>")
    shown = tmp_path / "figure3.html"
    shown.write_text(page[:end] + SHOW_FIGURE + page[end + len("</body>"):], encoding="utf-8")
    shot = tmp_path / "figure3.png"
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1600,1000",
              "--virtual-time-budget=10000"]
    res = subprocess.run([*common, f"--screenshot={shot}", shown.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    dom = subprocess.run([*common, "--dump-dom", shown.as_uri()], capture_output=True,
                         text=True, timeout=120).stdout
    with capsys.disabled():
        print(f"\nscreenshot of the report's Figure 3 replica: {shot}")

    # the page shows the figure's own PNG, with its caption beside it
    shown_uris = re.findall(r'<img src="data:image/png;[^"]*base64,([^"]+)"', dom)
    _, folder = tiny_results
    assert base64.b64decode(shown_uris[0]) == (folder / FIGURE).read_bytes()
    assert "Running average of the episodic return" in dom
    # and the screenshot is not blank: the figure's half holds the plot's many colours
    import matplotlib.image

    pixels = (matplotlib.image.imread(shot)[..., :3] * 255).astype(np.uint8)
    figure_half = pixels[:, pixels.shape[1] // 2:].reshape(-1, 3)
    colours, counts = np.unique(figure_half, axis=0, return_counts=True)
    assert len(colours) > 200 and counts.max() < 0.95 * len(figure_half)
