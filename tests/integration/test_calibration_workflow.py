"""The A2C calibration as Snakemake runs it (workflow/config/a2c-calibration.yaml): the screen,
then the checkpoint calibration_winner, which applies the preregistered rule, then the
confirmation of the cell it named and nothing else. `jepa-bench train` is a stand-in that writes
a run folder whose returns depend on the cell's settings (no training); the winner rule and the
report are the real command line."""

import json

import pytest
import yaml

pytest.importorskip("snakemake", reason="snakemake is not installed")

PRESET = "workflow/config/a2c-calibration.yaml"

# returns of a screen run: 100 for num_steps=16 with lr=2e-3, 100.04 for num_steps=5 with
# lr=7e-4 (a tie to one decimal, which the shorter rollout wins), 10 for every other cell
FAKE_TRAIN = '''
a = TRAIN.parse_args(sys.argv[2:])
sets = dict(item.split("=") for item in a.set)
score = {{("16", "2e-3"): 100.0, ("5", "7e-4"): 100.04}}.get((sets["num_steps"], sets["lr"]), 10.0)
out = Path(a.out)
out.mkdir(parents=True, exist_ok=True)
(out / "episodes.csv").write_text("env_step,return,length\\n"
                                  + "".join(f"{{i}},{{score}},10\\n" for i in range(1, 61)))
(out / "metrics.csv").write_text("update,env_step\\n1,60\\n")
(out / "run.json").write_text(json.dumps({{"config_name": a.config, "seed": int(a.seed),
                                          "status": "complete"}}))
'''


def test_the_checkpoint_confirms_the_cell_the_rule_picks(tmp_path, snakemake, stand_in):
    fake, stand_in_calls = stand_in(FAKE_TRAIN)
    over = tmp_path / "over.yaml"
    preset = yaml.safe_load(open(PRESET, encoding="utf-8"))
    over.write_text(yaml.safe_dump({"calibration": {**preset["calibration"], "confirm": {
        **preset["calibration"]["confirm"], "seeds": [100, 101, 102]}}}))
    results = tmp_path / "cal"
    res = snakemake("--cores", "2", "--configfile", PRESET, str(over),
                    "--config", f"results_root={results}", path_prefix=fake)
    assert res.returncode == 0, res.stderr[-3000:]

    calls = stand_in_calls()
    outs = sorted(c[c.index("--out") + 1].split(f"{results}/")[1] for c in calls)
    screen = [o for o in outs if o.startswith("screen/")]
    confirm = [o for o in outs if o.startswith("confirm/")]
    assert len(screen) == 18
    # the tie (100.04 vs 100.0, equal to one decimal) goes to the shorter rollout
    assert confirm == [f"confirm/n5_lr7e-4/seed{s}" for s in (100, 101, 102)]
    runs = [c for c in calls if "confirm/" in c[c.index("--out") + 1]]
    assert all(c[c.index("--total-steps") + 1] == "100000" for c in runs)
    assert all({"num_steps=5", "lr=7e-4"} <= {c[i + 1] for i, w in enumerate(c) if w == "--set"}
               for c in runs)
    winner = json.loads((results / "confirm-winner.json").read_text())
    assert winner["cell"] == "n5_lr7e-4" and winner["scores"]["n16_lr2e-3"] == 100.0
    report = (results / "calibration.md").read_text()
    assert "**n5_lr7e-4** (num_steps=5 lr=7e-4)" in report
    assert "| n5_lr7e-4 | 3 | 100 |" in report and "| True |" in report
