"""Checks of the Snakemake workflow's config, shared by workflow/rules/common.smk and the tests.

Snakemake's own `validate` reports a bad value as a multi-line jsonschema dump that does not name
the key; `config_error` gives the first problem as one line, `config total_steps=0 is not
allowed: ...`. `seeds_from_command_line` accepts `snakemake --config seeds=[0,1]`, whose items
Snakemake hands over as strings.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator


def load_schema(path: str | Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def seeds_from_command_line(seeds):
    """`--config seeds=[0,1]` arrives as ['0', '1']: read digit strings as the integers they
    spell; anything else is returned unchanged for the schema to reject."""
    if not isinstance(seeds, list):
        return seeds
    return [int(s) if isinstance(s, str) and re.fullmatch(r"\s*\d+\s*", s) else s for s in seeds]


def config_error(config: dict, schema: dict) -> str | None:
    """The first way `config` breaks `schema`, as one line naming the key and value; None if
    it is valid. Errors are taken in key order so the message does not depend on dict order."""
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:
        return None
    err = errors[0]
    path = list(err.absolute_path)
    if err.validator == "additionalProperties":
        known = set(err.schema.get("properties", {}))
        unknown = sorted(k for k in err.instance if k not in known)
        where = "config" + "".join(f"[{p}]" for p in path)
        return (f"{where} key {', '.join(map(repr, unknown))} is not known: allowed keys are "
                f"{', '.join(sorted(known))}")
    if not path:
        return f"config is not allowed: {err.message}"
    key = str(path[0]) + "".join(f"[{p}]" for p in path[1:])
    allowed = err.schema.get("description") if isinstance(err.schema, dict) else None
    message = err.message
    if err.validator == "enum":
        message = f"allowed values are {', '.join(map(str, err.validator_value))}"
    hint = f" ({allowed})" if allowed and err.validator != "enum" else ""
    return f"config {key}={err.instance!r} is not allowed: {message}{hint}"
