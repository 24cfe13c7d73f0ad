"""One-line config errors and command-line seeds for the Snakemake workflow."""

from pathlib import Path

import pytest
import yaml

from jepa_bench.workflow_config import config_error, load_schema, seeds_from_command_line

REPO = Path(__file__).resolve().parents[2]
SCHEMA = load_schema(REPO / "workflow" / "schemas" / "config.schema.yaml")
GOOD = yaml.safe_load((REPO / "workflow" / "config" / "config.yaml").read_text())


@pytest.mark.parametrize("preset", ["config", "full-grid", "tiny", "recovery", "recovery-small"])
def test_presets_pass(preset):
    path = REPO / "workflow" / "config" / f"{preset}.yaml"
    merged = GOOD | yaml.safe_load(path.read_text())
    assert config_error(merged, SCHEMA) is None


@pytest.mark.parametrize("key, value, expected", [
    ("total_steps", 0, "config total_steps=0 is not allowed: 0 is less than the minimum of 1"),
    ("seeds", [0, -1], "config seeds[1]=-1 is not allowed: -1 is less than the minimum of 0"),
    ("seeds", [0, 0], "config seeds=[0, 0] is not allowed: [0, 0] has non-unique elements"),
    ("configurations", ["j9g0r0"], "config configurations[0]='j9g0r0' is not allowed: allowed "
                                   "values are j0g0r0, j0g0r1"),
    ("device", "tpu", "config device='tpu' is not allowed"),
])
def test_bad_value_is_one_line_naming_key_and_value(key, value, expected):
    message = config_error(GOOD | {key: value}, SCHEMA)
    assert message is not None and message.startswith(expected)
    assert "\n" not in message


def test_unknown_key_lists_the_known_ones():
    message = config_error(GOOD | {"total_step": 5}, SCHEMA)
    assert message.startswith("config key 'total_step' is not known: allowed keys are ")
    assert "total_steps" in message and "\n" not in message


def test_first_error_does_not_depend_on_key_order():
    bad = {"total_steps": 0, "device": "tpu"}
    one = config_error(GOOD | bad, SCHEMA)
    two = config_error(dict(reversed(list((GOOD | bad).items()))), SCHEMA)
    assert one == two


@pytest.mark.parametrize("given, expected", [
    (["0", "1"], [0, 1]), ([0, "2"], [0, 2]), (["a", "1"], ["a", 1]), (["-1"], ["-1"]),
    ("3", "3"), ([], []),
])
def test_seeds_from_command_line(given, expected):
    assert seeds_from_command_line(given) == expected
