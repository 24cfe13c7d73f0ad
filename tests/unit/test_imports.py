"""The layers, held as the tree shows them: `import jepa_bench`, the top-level contracts and every
module of analysis/ and studies/ load no torch (a fresh interpreter each time, so that nothing
imported by other tests counts); nothing there imports the torch side (rl/); the package's
imports have no loops; the command line loads torch only for the subcommands that need it."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import jepa_bench

PACKAGE = Path(jepa_bench.__file__).parent
LIGHT_TOP = ["jepa_bench", "jepa_bench.layout", "jepa_bench.metrics", "jepa_bench.config",
             "jepa_bench.errors", "jepa_bench.workflow_config", "jepa_bench.cli"]
LIGHT_FOLDERS = ("analysis", "studies")


def _modules(folder: str | None = None) -> list[str]:
    """Every module of the package (or of one of its folders), found on disk."""
    root = PACKAGE / folder if folder else PACKAGE
    prefix = f"jepa_bench.{folder}." if folder else "jepa_bench."
    return sorted(m.name for m in pkgutil.walk_packages([str(root)], prefix))


LIGHT = LIGHT_TOP + [m for f in LIGHT_FOLDERS for m in [f"jepa_bench.{f}", *_modules(f)]]


def _imports_of(module: str) -> set[str]:
    """The jepa_bench modules a module imports anywhere in its source (lazy imports too)."""
    path = PACKAGE.joinpath(*module.split(".")[1:])
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    known = set(_modules()) | {"jepa_bench"}
    return {m for m in found if m in known and m != module}


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


@pytest.mark.parametrize("folder", LIGHT_FOLDERS)
def test_analysis_and_studies_never_import_the_torch_side(folder):
    for module in _modules(folder):
        torch_side = sorted(m for m in _imports_of(module) if m.startswith("jepa_bench.rl"))
        assert not torch_side, f"{module} imports {torch_side}"


def test_the_package_has_no_import_loops():
    graph = {m: _imports_of(m) for m in _modules()}
    for start in graph:  # a module-level path back to `start` is a loop
        seen, todo = set(), list(graph[start])
        while todo:
            m = todo.pop()
            if m == start:
                pytest.fail(f"import loop through {start}")
            if m not in seen:
                seen.add(m)
                todo.extend(graph.get(m, ()))


@pytest.mark.parametrize("argv", [["plots", "--help"], ["claims"], ["aggregate", "--help"],
                                  ["compare", "--help"], ["configs"]])
def test_the_cli_loads_torch_only_where_a_subcommand_needs_it(argv):
    code = ("import sys\nfrom jepa_bench.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_the_cli_docstring_names_every_subcommand():
    from jepa_bench import cli

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    missing = [name for name in sub.choices if name not in cli.__doc__]
    assert not missing, f"jepa_bench/cli.py's docstring does not name {missing}"
