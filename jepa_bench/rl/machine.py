"""What a run records about the machine it ran on, and the device it runs on.

Owns: the CPU's model and flags (/proc/cpuinfo), its native-bf16 support, the machine record and
package versions in run.json, the git revision of the code and whether the package's work tree
had uncommitted changes (`git_state`), the UTC time stamps of run.json (`utc_now`), and resolving
`--device`. Those are what decide, besides the code and the seed, whether a rerun is
bit-identical. Must not train, read run folders or write files.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch

from jepa_bench.gitrepo import git

__all__ = ["cpu_bf16_flags", "cpu_bf16_supported", "cpuinfo", "git_revision", "git_state",
           "machine_info", "resolve_device", "utc_now", "versions"]

PACKAGE_DIR = Path(__file__).resolve().parents[1]
"""The package's source folder (jepa_bench/): the code a run runs, whose git state run.json
records."""


def cpuinfo() -> tuple[str | None, list[str]]:
    """The first CPU's model name and feature flags from /proc/cpuinfo ('flags' on x86,
    'Features' on ARM); (None, []) where there is no such file."""
    model, flags = None, []
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model is None:
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = value.split()
                if model is not None and flags:
                    break
    except OSError:
        pass
    return model, flags


def cpu_bf16_flags() -> dict:
    """What this CPU offers for bf16: torch's kernel capability, the /proc/cpuinfo flags
    avx512_bf16 / amx_bf16, and oneDNN's own check."""
    flags = set(cpuinfo()[1])
    try:
        onednn = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        onednn = False
    return {"torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "avx512_bf16": "avx512_bf16" in flags, "amx_bf16": "amx_bf16" in flags,
            "onednn_bf16": onednn}


def cpu_bf16_supported() -> bool:
    """Native bf16 arithmetic (AVX512-BF16 or AMX-BF16) that oneDNN's matmul kernels use."""
    f = cpu_bf16_flags()
    return bool((f["avx512_bf16"] or f["amx_bf16"]) and f["onednn_bf16"])


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' requested but torch.cuda.is_available() is False; "
                         "use 'cpu' or 'auto'")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ValueError(f"device={device!r} is not one of: 'auto', 'cpu', 'cuda'")
    return torch.device(device)


def git_revision(folder: Path = PACKAGE_DIR) -> str:
    """The commit checked out where the package's code lies; 'unknown' outside a git work tree."""
    out = git("rev-parse", "HEAD", folder=folder)
    return (out or b"").decode().strip() or "unknown"


def git_state(folder: Path = PACKAGE_DIR) -> dict:
    """Whether the code differs from the commit git_revision names: {"git_dirty": True when a
    tracked file below `folder` (the package, not results/ or runs/) has uncommitted changes,
    staged or not, or an untracked file that git does not ignore lies there; "git_diff_sha256":
    the SHA-256 of `git diff HEAD --binary` of those files followed by each untracked file's
    name and bytes, None when clean}. Both None outside a git work tree."""
    diff = git("diff", "HEAD", "--binary", "--", ".", folder=folder)
    untracked = git("ls-files", "--others", "--exclude-standard", "-z", "--", ".", folder=folder)
    if diff is None or untracked is None:
        return {"git_dirty": None, "git_diff_sha256": None}
    names = sorted(n for n in untracked.decode(errors="surrogateescape").split("\0") if n)
    if not diff and not names:
        return {"git_dirty": False, "git_diff_sha256": None}
    digest = hashlib.sha256(diff)
    for name in names:
        digest.update(b"\0" + name.encode(errors="surrogateescape") + b"\0")
        try:
            digest.update((folder / name).read_bytes())
        except OSError:  # gone since git listed it
            pass
    return {"git_dirty": True, "git_diff_sha256": digest.hexdigest()}


def utc_now() -> str:
    """The time now in UTC, ISO 8601 to the second: '2025-01-31T12:00:00Z'."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def machine_info() -> dict:
    """What decides whether a rerun is bit-identical besides the code and the seed: the CPU
    model and its vector instruction sets (the kernels torch picks), the torch build and the
    thread count (recorded beside this in run.json)."""
    model, flags = cpuinfo()
    model = model or platform.processor() or "unknown"
    if sys.platform == "darwin":
        try:
            model = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"],
                                   capture_output=True, text=True, timeout=5).stdout.strip() or model
        except (OSError, subprocess.SubprocessError):
            pass
    isa = sorted(f for f in flags if f.startswith(("avx", "amx", "fma", "f16c", "sse4", "asimd",
                                                     "sve", "neon")))
    return {"cpu": model, "arch": platform.machine(), "isa": isa,
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch_git": torch.version.git_version, "cuda": torch.version.cuda,
            "logical_cpus": os.cpu_count(), "os": platform.platform()}


def versions() -> dict:
    import gymnasium
    import numpy

    from jepa_bench import __version__
    return {"jepa_bench": __version__, "torch": torch.__version__, "gymnasium": gymnasium.__version__,
            "numpy": numpy.__version__, "python": platform.python_version()}
