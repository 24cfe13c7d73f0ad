"""Reading and writing the harness's files: a file of the wrong kind or cut short is one line
naming it, and a write that cannot land leaves nothing behind."""

import json
from pathlib import Path

import pytest

from jepa_bench.cli import main
from jepa_bench.metrics import atomic_write_text, check_metrics_rows, read_json

REPO = Path(__file__).resolve().parents[2]


def _write(path, data):
    path.write_text(json.dumps(data))
    return path


def test_read_json_takes_only_an_object_with_the_keys_asked(tmp_path):
    assert read_json(_write(tmp_path / "ok.json", {"claims": []}), need={"claims": list}) == \
        {"claims": []}
    with pytest.raises(ValueError) as err:
        read_json(_write(tmp_path / "list.json", [1, 2]), what="a claims report")
    assert str(err.value) == (f"{tmp_path / 'list.json'} holds a JSON array, not an object; "
                              "expected a claims report")
    with pytest.raises(ValueError) as err:
        read_json(_write(tmp_path / "n.json", {"claims": 5}), need={"claims": list})
    assert str(err.value) == (f"{tmp_path / 'n.json'} has a number as its 'claims' "
                              "(a JSON array is needed)")
    with pytest.raises(ValueError) as err:
        read_json(_write(tmp_path / "o.json", {"other": 1}), need={"encoder": str},
                  what="a probe result")
    assert str(err.value) == (f"{tmp_path / 'o.json'} has no 'encoder' (a JSON string is "
                              "needed); expected a probe result")
    (tmp_path / "bytes.json").write_bytes(b'{"a": "\xff"}')
    with pytest.raises(ValueError, match=rf"^{tmp_path / 'bytes.json'} is not UTF-8 text, so not "
                                         r"valid JSON"):
        read_json(tmp_path / "bytes.json")


def test_an_atomic_write_onto_a_folder_is_refused_and_leaves_nothing(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(IsADirectoryError) as err:
        atomic_write_text(folder, "text")
    assert err.value.filename == str(folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no out.tmp left behind


def test_a_failed_rename_takes_its_temporary_file_away(tmp_path, monkeypatch):
    def no_rename(src, dst):
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr("jepa_bench.metrics.os.replace", no_rename)
    (tmp_path / "report.md").write_text("old")
    with pytest.raises(OSError):
        atomic_write_text(tmp_path / "report.md", "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]
    assert (tmp_path / "report.md").read_text() == "old"


def test_metrics_rows_must_be_whole_and_one_per_update(tmp_path):
    metrics = tmp_path / "metrics.csv"
    metrics.write_text("update,env_step\n1,32\n2,64\n")
    check_metrics_rows(metrics, {"updates": 2})
    check_metrics_rows(metrics, {})  # a record with no update count is not checked
    with pytest.raises(ValueError, match=r"holds 2 whole rows, but its run.json records 3 "):
        check_metrics_rows(metrics, {"updates": 3})
    metrics.write_text("")
    with pytest.raises(ValueError, match=r"metrics.csv is empty, but its run.json records 2 "):
        check_metrics_rows(metrics, {"updates": 2})
    metrics.write_bytes(b"update,env_step\n1,32\n2,\xff\n")
    with pytest.raises(ValueError, match=r"metrics.csv is not UTF-8 text: the file is damaged"):
        check_metrics_rows(metrics, {"updates": 2})
    metrics.write_text("update,env_step\n1,32\n2,6")
    with pytest.raises(ValueError, match=r"holds 1 whole rows and a last row cut off, but its "
                                         r"run.json records 2 updates: the file is damaged"):
        check_metrics_rows(metrics, {"updates": 2})


def test_report_commands_name_a_file_of_the_wrong_kind(tmp_path, capsys):
    listing = _write(tmp_path / "list.json", [1, 2])
    claims = _write(tmp_path / "claims.json", {"claims": []})
    for argv, message in [
        (["yu-chen", "--reports", f"x={listing}"], f"{listing} holds a JSON array, not an object"),
        (["trained-encoders", "--probes", str(claims)],
         f"{claims} has no 'run' (a JSON string is needed); expected one run's frozen probe"),
        (["settings-table", "--claims", f"v2={_write(tmp_path / 'p.json', {'run': 'x'})}"],
         "has no 'claims' (a JSON array is needed); expected a claims report"),
        (["probe-table", str(claims)], f"{claims} has no 'encoder'"),
        (["probe-table", str(claims), str(tmp_path / ".." / tmp_path.name / "claims.json")],
         f"is given twice (also as {str(claims)!r}); give each probe file once"),
        (["calibration-report", "--root", str(tmp_path), "--spec", '{"screen": 5}'],
         "--spec: config calibration[screen]=5 is not allowed: 5 is not of type 'object'"),
        (["bench", "--configs", "nosuch"], "unknown config 'nosuch'; valid names: j0g0r0"),
    ]:
        assert main([*argv, "--out", str(tmp_path / "o.md")] if argv[0] != "bench" else argv) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "o.md").exists()


def test_inputs_that_are_not_what_they_should_be_are_one_line(tmp_path, capsys):
    afile, adir = tmp_path / "afile", tmp_path / "adir"
    afile.write_text("x")
    adir.mkdir()
    several = _write(tmp_path / "several.json", {"runs": [{"run": "a", "snapshots": []}]})
    summary = tmp_path / "summary"
    summary.mkdir()
    _write(summary / "summary.json", {"runs_used": [{"seed": 0}, {"seed": 1}]})
    (summary / "runs.csv").write_text("configuration,seed\nj1g1r0,0\n")
    (summary / "stats.csv").write_text("configuration,metric\n")
    run = tmp_path / "run"
    run.mkdir()
    _write(run / "run.json", {"status": "complete", "config_name": "j1g1r0", "seed": 0})
    for argv, message in [
        (["calibration-report", "--root", str(tmp_path / "nosuch"), "--spec", "{}",
          "--out", str(tmp_path / "o.md")],
         f"argument --root: '{tmp_path / 'nosuch'}' is not a folder; give the folder that holds"),
        (["trained-encoders", "--probes", str(afile / "p.json"), "--out", str(tmp_path / "o.md")],
         f"cannot read {afile / 'p.json'}: a part of that path is a file, not a folder"),
        (["trained-encoders", "--probes", str(adir), "--out", str(tmp_path / "o.md")],
         f"cannot read {adir}: it is a folder, not a file"),
        (["trained-encoders", "--probes", str(several), "--out", str(tmp_path / "o.md")],
         f"{several} has no 'run' (a JSON string is needed); expected one run's frozen probe"),
        (["sensitivity-aggregate", "--spec", "{}", "--root", str(tmp_path), "--configs",
          "j1g1r0", "--seeds", "0", "--point", "p", "--total-steps", "10", "--settings", "v9",
          "--out", str(tmp_path / "s")], "argument --settings: invalid choice: 'v9'"),
        (["claims", "--summary", str(summary), "--out", str(tmp_path / "c.md")],
         "runs.csv is damaged: it has 1 rows for the 2 runs summary.json lists"),
        (["settings-table", "--claims", f"v2={_write(tmp_path / 'c.json', {'claims': []})}",
          "--out", str(adir)], f"cannot use {adir}: a folder is there, not a file; nothing was "
                               "overwritten: give --out a path you can write"),
        (["rerun-check", str(run), "--seeds-of", str(tmp_path / "nosuch")],
         f"--seeds-of {tmp_path / 'nosuch'} is not a folder"),
    ]:
        code = _exit_status(argv)
        err = capsys.readouterr().err.strip()
        assert code == 2 and message in err and len(err.splitlines()) == 1, (argv, err)
    assert not any((tmp_path / name).exists() for name in ("o.md", "s", "c.md"))


def _exit_status(argv) -> int:
    """What `jepa-bench ARGV` exits with: main's return value, or argparse's exit."""
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code


def test_a_table_that_is_empty_or_not_text_is_named(tmp_path):
    from jepa_bench.analysis.aggregate import read_table
    empty, binary = tmp_path / "empty.csv", tmp_path / "binary.csv"
    empty.write_text("")
    binary.write_bytes(b"env_step\n\xff\xfe\n")
    with pytest.raises(ValueError, match=rf"^{empty} is empty: a table starts with its header"):
        read_table(empty)
    with pytest.raises(ValueError, match=rf"^{binary} is not UTF-8 text; restore it"):
        read_table(binary)


def test_a_run_table_with_a_row_that_lost_its_step_is_named(tmp_path):
    from jepa_bench.analysis.aggregate import read_tables
    from jepa_bench.layout import RunPaths
    source = RunPaths.of(REPO / "results" / "v2" / "runs", "j1g1r0", 0)
    run = RunPaths(tmp_path)
    lines = source.metrics.read_text().splitlines(keepends=True)
    columns = lines[0].rstrip("\n").split(",")
    row = lines[3].split(",")
    row[columns.index("env_step")] = ""  # a hand edit gone wrong
    run.metrics.write_text("".join(lines[:3] + [",".join(row)] + lines[4:]))
    run.episodes.write_bytes(source.episodes.read_bytes())
    with pytest.raises(ValueError, match=r"metrics.csv has a row with no env_step \(row 4 of the "
                                         r"file\): it is damaged"):
        read_tables(run)


def test_a_summary_table_cut_short_is_named(tmp_path):
    from jepa_bench.analysis.aggregate import read_summary
    _write(tmp_path / "summary.json", {"runs_used": [{"seed": 0}, {"seed": 1}]})
    (tmp_path / "runs.csv").write_text("configuration,seed\nj1g1r0,0\nj1g1r0,1\n")
    (tmp_path / "stats.csv").write_text("configuration,metric\nj1g1r0,auc_return\n")
    assert len(read_summary(tmp_path, ("runs", "stats"))["runs"]) == 2
    (tmp_path / "runs.csv").write_text("configuration,seed\nj1g1r0,0\n")
    with pytest.raises(ValueError, match=r"runs.csv is damaged: it has 1 rows for the 2 runs "
                                         r"summary.json lists; rerun the aggregate"):
        read_summary(tmp_path, ("runs",))
    (tmp_path / "stats.csv").write_text("configuration,metric\nj1g1r0,auc_re")
    with pytest.raises(ValueError, match=r"stats.csv is damaged: its last row is cut off"):
        read_summary(tmp_path, ("stats",))
