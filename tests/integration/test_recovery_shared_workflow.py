"""The preset of docs/yu-chen-protocol.md part 2 (workflow/config/recovery-shared.yaml,
workflow/rules/recovery_shared.smk) as Snakemake runs it: stage 1 for every seed with both
stops and each algorithm's settings set, then the checkpoint, which schedules the switch and
its probes for the collapsed seeds only. The real run uses stand-ins for `jepa-bench train` and
`probe-frozen` (synthetic run folders: no training); the checkpoint and the report are the real
command line. PPO runs under v2, A2C under v2-a2c, as the preset says."""

import json

import pytest
import yaml

pytest.importorskip("snakemake", reason="snakemake is not installed")

PRESET = "workflow/config/recovery-shared.yaml"


def _configfile(tmp_path, **values):
    """A second --configfile over the preset, with `values` (lists cannot go through --config)."""
    path = tmp_path / "over.yaml"
    path.write_text(yaml.safe_dump(values or {"seeds": [0, 1, 2, 3, 4]}))
    return str(path)


def test_the_preset_plans_stage_one_and_the_checkpoint_for_every_seed(tmp_path, snakemake,
                                                                       job_counts):
    res = snakemake("-n", "-p", "--configfile", PRESET, _configfile(tmp_path),
                    "--config", f"results_root={tmp_path}/rs")
    assert res.returncode == 0, res.stderr + res.stdout
    # the switch runs are not known before the checkpoint has run
    assert job_counts(res.stdout) == {"recovery_shared_collapse": 10, "recovery_shared_outcome": 2,
                                      "recovery_shared_report": 1, "all": 1, "total": 14}
    cmds = [ln.removeprefix("Shell command: ") for ln in res.stdout.splitlines()
            if "Shell command: jepa-bench " in ln]
    stage1 = next(c for c in cmds if f"--out {tmp_path}/rs/stages/collapse/ppo/seed3 " in c)
    assert stage1.startswith("jepa-bench train --config ppo_shared_nograd --seed 3 "
                             "--total-steps 300000 ")
    assert stage1.split(" > ")[0].endswith(
        "--settings v2 --resume --quiet --set stop_rel_var=0.0001 --set stop_embed_var=1e-07")
    a2c = next(c for c in cmds if f"--out {tmp_path}/rs/stages/collapse/a2c/seed0 " in c)
    assert a2c.startswith("jepa-bench train --config a2c_shared_nograd --seed 0 ")
    assert " --settings v2-a2c --resume " in a2c
    outcome = next(c for c in cmds if c.startswith("jepa-bench recovery-shared-collapse ")
                   and "--algos ppo " in c)
    assert (f"--root {tmp_path}/rs/stages --algos ppo --settings-sets ppo=v2 " in outcome
            and "--seeds 0 1 2 3 4 --collapse-steps 300000 --recovery-steps 50000 "
                "--collapse-rel 0.0001 --collapse-threshold 1e-07 --recovery-rel 0.01 "
                "--recovery-threshold 1e-05" in outcome)


def test_the_preset_names_the_protocols_runs():
    preset = yaml.safe_load(open(PRESET, encoding="utf-8"))
    assert preset["recovery_shared_configs"] == {
        "ppo": {"grad_on": "ppo_shared", "grad_off": "ppo_shared_nograd"},
        "a2c": {"grad_on": "a2c_shared", "grad_off": "a2c_shared_nograd"}}
    assert preset["recovery_shared_settings"] == {"ppo": "v2", "a2c": "v2-a2c"}
    assert preset["seeds"] == [0, 1, 2, 3, 4]
    assert (preset["recovery_shared_collapse_steps"], preset["recovery_shared_steps"]) == (
        300_000, 50_000)
    assert (preset["recovery_shared_collapse_rel"], preset["recovery_shared_collapse_threshold"],
            preset["recovery_shared_rel"], preset["recovery_shared_threshold"]) == (
        1e-4, 1e-7, 1e-2, 1e-5)


@pytest.mark.parametrize("config, message", [
    (["experiments=[recovery,recovery_shared]"],
     "recovery and recovery_shared both write {results_root}/recovery.md"),
    (["recovery_shared_rel=1e-5"], "recovery_rel=1e-05 must lie above collapse_rel=0.0001"),
])
def test_bad_config_is_one_line_and_exit_2(tmp_path, snakemake, config, message):
    res = snakemake("-n", "--configfile", PRESET, _configfile(tmp_path),
                    "--config", f"results_root={tmp_path}/rs", *config)
    assert res.returncode == 2, res.stderr + res.stdout
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("jepa-bench workflow: error: ") and message in last
    assert "Traceback" not in res.stderr


# the stand-in's body (after the shared head, tests/conftest.py): stage 1 collapses (rho 5e-5 at
# its third update, where it stops) for the seeds in FAKE_COLLAPSE and stays at its first value
# otherwise; after the switch the grad_on arm recovers (rho 2e-2 from its second update), the
# grad_off arm does not; probe-frozen writes R² that rise only where the RL gradient was on
FAKE_CLI = '''
p = argparse.ArgumentParser()
if sys.argv[1] == "probe-frozen":
    p.add_argument("run")
    p.add_argument("--threads")
    p.add_argument("--json")
    a = p.parse_args(sys.argv[2:])
    info = json.loads((Path(a.run) / "run.json").read_text())
    def snap(step, r2):
        return {{"env_step": step, "r2": {{h: dict(x=r2, x_dot=r2, theta=r2, theta_dot=r2)
                                          for h in ("mlp", "linear")}}}}
    end = 0.7 if info["config"]["rl_grad"] else 0.3
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps({{"run": a.run, "config_name": info["config_name"],
                                        "seed": info["seed"],
                                        "snapshots": [snap(0, 0.2), snap(info["env_steps"], end)]}}))
    raise SystemExit(0)
a = TRAIN.parse_args(sys.argv[2:])
from jepa_bench.config import parse_overrides, resolve
from jepa_bench.layout import RunPaths
from jepa_bench.metrics import EPISODE_COLUMNS, METRIC_COLUMNS, write_csv_atomic
cfg = resolve(a.config, {{**parse_overrides(a.set), "total_steps": int(a.total_steps),
                         "renderer": a.renderer}}, settings=a.settings)
seed, updates = int(a.seed), int(a.total_steps) // 64
if a.init_from is None:
    collapses = str(seed) in os.environ["FAKE_COLLAPSE"].split(",")
    ev = [1e-2, 1e-3, 5e-7] if collapses else [1e-2] * updates
else:
    ev = [5e-7] + [2e-4 if cfg.rl_grad else 5e-7] * (updates - 1)
paths = RunPaths(Path(a.out))
write_csv_atomic(paths.metrics, METRIC_COLUMNS, [
    {{**dict.fromkeys(METRIC_COLUMNS, 0.5), "update": u + 1, "env_step": 64 * (u + 1),
      "embed_var": v}} for u, v in enumerate(ev)])
write_csv_atomic(paths.episodes, EPISODE_COLUMNS,
                 [{{"env_step": s, "return": 20.0, "length": 20}} for s in range(20, 64 * len(ev) + 1, 20)])
if a.init_from is None:
    paths.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    paths.checkpoint.write_bytes(b"weights")
paths.run_json.write_text(json.dumps({{"config_name": a.config, "seed": seed, "status": "complete",
                                      "env_steps": 64 * len(ev), "config": cfg.to_dict(),
                                      "settings": a.settings, "init_from": a.init_from}}))
'''


def test_the_checkpoint_switches_only_the_seeds_that_collapsed(tmp_path, snakemake, stand_in,
                                                                monkeypatch):
    fake, stand_in_calls = stand_in(FAKE_CLI, handles=("train", "probe-frozen"))
    monkeypatch.setenv("FAKE_COLLAPSE", "0,1,3")
    results = tmp_path / "rs"
    res = snakemake("--cores", "2", "--configfile", PRESET,
                    _configfile(tmp_path, seeds=[0, 1, 2, 3],
                                recovery_shared_collapse_steps=512, recovery_shared_steps=256),
                    "--config", f"results_root={results}", path_prefix=fake)
    assert res.returncode == 0, res.stderr[-3000:]

    calls = stand_in_calls()

    def value(call, option):
        return call[call.index(option) + 1] if option in call else None

    stage1 = [c for c in calls if c[0] == "train" and "--init-from" not in c]
    switch = [c for c in calls if c[0] == "train" and "--init-from" in c]
    probes = [c for c in calls if c[0] == "probe-frozen"]
    assert sorted((value(c, "--config"), value(c, "--seed")) for c in stage1) == sorted(
        (cfg, str(s)) for cfg in ("ppo_shared_nograd", "a2c_shared_nograd") for s in range(4))
    assert all("stop_rel_var=0.0001" in c and "stop_embed_var=1e-07" in c for c in stage1)
    # seed 2 did not collapse: neither switched nor probed
    assert sorted((value(c, "--config"), value(c, "--seed")) for c in switch) == sorted(
        (cfg, str(s)) for cfg in ("ppo_shared", "ppo_shared_nograd", "a2c_shared",
                                  "a2c_shared_nograd") for s in (0, 1, 3))
    for c in switch:
        algo = "ppo" if value(c, "--config").startswith("ppo") else "a2c"
        assert value(c, "--init-from") == (f"{results}/stages/collapse/{algo}/"
                                           f"seed{value(c, '--seed')}/checkpoints/last.pt")
        assert value(c, "--total-steps") == "256" and not any("stop_" in w for w in c)
    assert sorted(c[1].split("/stages/")[1] for c in probes) == sorted(
        f"{algo}/{arm}/seed{s}" for algo in ("ppo", "a2c") for arm in ("grad_on", "grad_off")
        for s in (0, 1, 3))

    outcome = json.loads((results / "collapse" / "ppo.json").read_text())
    assert (outcome["collapsed"], outcome["not_collapsed"]) == ([0, 1, 3], [2])
    report = json.loads((results / "recovery.json").read_text())
    assert report["algorithms"]["a2c"]["included_seeds"] == [0, 1, 3]
    assert report["runs"]["settings_sets"] == {"ppo": "v2", "a2c": "v2-a2c"}
    assert {(c["id"], c["verdict"]) for c in report["claims"]} == {
        ("a", "reproduced"), ("b", "reproduced"), ("c", "not reproduced")}
    assert report["algorithms"]["ppo"]["probe"]["grad_on"]["theta"]["regained"] == 3
    for name in ("tables/probe.csv", "figures/recovery_shared.png", "recovery.md"):
        assert (results / name).stat().st_size > 0
    assert "seed 2 left out: did not collapse in stage 1" in (results / "recovery.md").read_text()
