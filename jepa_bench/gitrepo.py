"""Questions asked of the git history the code and the results live in.

Owns running git: the one place that calls it, for the run records (jepa_bench.rl.machine), the
workflow's commit times (jepa_bench.workflow_config.sync_commit_times) and the preregistration
check of the sensitivity study (jepa_bench.studies.sensitivity). Every answer is None where there
is no git or no work tree (an unpacked archive), never an exception. Must not change commits,
refs or files' contents: the one write is `update-index --refresh`, which sync_commit_times asks
for after it sets file times. No torch.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

__all__ = ["first_commit", "git", "is_ancestor"]


def git(*args: str, folder: str | os.PathLike = ".") -> bytes | None:
    """stdout of `git args` run in `folder`; None outside a git work tree, without git, or when
    git fails."""
    try:
        out = subprocess.run(["git", "-c", "core.quotepath=off", *args], cwd=Path(folder),
                             capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def first_commit(path: str, folder: str | os.PathLike = ".") -> str | None:
    """The full hash of the oldest commit that added `path` (relative to the work tree's top),
    or None when git knows no such commit."""
    out = git("log", "--diff-filter=A", "--format=%H", "--", f":(top){path}", folder=folder)
    commits = (out or b"").decode().split()
    return commits[-1] if commits else None


def is_ancestor(older: str, newer: str, folder: str | os.PathLike = ".") -> bool | None:
    """Whether commit `older` is `newer` or one of its ancestors; None when git cannot tell (no
    git, or a commit it does not know)."""
    for rev in (older, newer):
        if git("cat-file", "-e", f"{rev}^{{commit}}", folder=folder) is None:
            return None
    try:
        out = subprocess.run(["git", "merge-base", "--is-ancestor", older, newer],
                             cwd=Path(folder), capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return {0: True, 1: False}.get(out.returncode)
