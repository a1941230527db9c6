"""Running an untrusted-document renderer with no network, a private filesystem and limits.

Three layers, the strongest the host offers:
- bubblewrap (`bwrap`): new network, PID and IPC namespaces, and a filesystem view of the
  system's programs and fonts, read-only, plus only the job's own folders;
- `unshare -n`: no network (a down loopback only), the filesystem as it is;
- nothing: a warning is logged once; the deck was already stripped of external links.
On top of any of them, `prlimit` caps the address space and the size of any file written.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from media_pipeline.errors import ToolMissingError

logger = logging.getLogger("media_pipeline.sandbox")

MODES = ("auto", "bwrap", "unshare", "none")
# What LibreOffice and poppler need to read besides /usr: fonts, the linker cache, and the
# alternatives links Debian uses for programs.
_SYSTEM_READS = (
    "/etc/fonts",
    "/etc/ld.so.cache",
    "/etc/alternatives",
    "/etc/libreoffice",
    "/var/cache/fontconfig",
)


@dataclass(frozen=True)
class SandboxOptions:
    mode: str = "auto"
    memory_bytes: int = 2 * 1024**3
    max_file_bytes: int = 2 * 1024**3


def sandbox_prefix(options: SandboxOptions, *, writable: Sequence[Path]) -> list[str]:
    """Return the command prefix that runs a program inside the sandbox the options ask for."""
    mode = _effective_mode(options.mode)
    limits = _limits_prefix(options)
    if mode == "bwrap":
        return [*_bwrap_prefix(writable), *limits]
    if mode == "unshare":
        return ["unshare", "--net", "--", *limits]
    return limits


def sandbox_mode(requested: str) -> str:
    """Return the sandbox actually used for a requested mode ("auto" picks the strongest)."""
    return _effective_mode(requested)


@functools.cache
def _effective_mode(requested: str) -> str:
    if requested not in MODES:
        raise ToolMissingError(
            f"SLIDECAST_RENDER_SANDBOX is {requested!r}; choose one of {', '.join(MODES)}."
        )
    if requested == "none":
        logger.warning("the renderer runs without a sandbox (SLIDECAST_RENDER_SANDBOX=none)")
        return "none"
    if requested in ("auto", "bwrap") and _works([*_bwrap_prefix([]), "true"]):
        return "bwrap"
    if requested == "bwrap":
        raise ToolMissingError(
            "SLIDECAST_RENDER_SANDBOX=bwrap, but bubblewrap is not installed or cannot create "
            "namespaces here. Install it (apt-get install bubblewrap) or choose another mode."
        )
    if _works(["unshare", "--net", "--", "true"]):
        if requested == "auto":
            logger.warning(
                "bubblewrap is not available: the renderer runs without network but sees the "
                "whole filesystem. Install bubblewrap for a private filesystem view."
            )
        return "unshare"
    if requested == "unshare":
        raise ToolMissingError(
            "SLIDECAST_RENDER_SANDBOX=unshare, but `unshare --net` is not permitted here "
            "(it needs root or unprivileged user namespaces)."
        )
    logger.warning(
        "neither bubblewrap nor `unshare --net` works here: the renderer runs with the "
        "host's network and filesystem (external links are still removed from decks)."
    )
    return "none"


def _works(command: list[str]) -> bool:
    if shutil.which(command[0]) is None:
        return False
    try:
        result = subprocess.run(command, capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


def _bwrap_prefix(writable: Sequence[Path]) -> list[str]:
    prefix = [
        "bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
        "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
        "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
    ]  # fmt: skip
    for path in _SYSTEM_READS:
        prefix += ["--ro-bind-try", path, path]
    for folder in writable:
        prefix += ["--bind", str(folder), str(folder)]
    if writable:
        prefix += ["--chdir", str(writable[0]), "--setenv", "HOME", str(writable[0])]
    return [*prefix, "--"]


def _limits_prefix(options: SandboxOptions) -> list[str]:
    if shutil.which("prlimit") is None:
        logger.warning("prlimit is not installed: the renderer runs without memory limits")
        return []
    return [
        "prlimit",
        f"--as={options.memory_bytes}",
        f"--fsize={options.max_file_bytes}",
        "--core=0",
        "--",
    ]
