"""What NVIDIA GPUs a host has and how busy they are, read from `nvidia-smi`.

nvidia-smi ships with the driver, so it answers on every GPU host whether or not torch is
installed; no output (or no program) means no usable GPU.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass

logger = logging.getLogger("media_pipeline.gpu")

QUERY = "index,name,utilization.gpu,memory.used,memory.total"
_MIB = 1024**2


@dataclass(frozen=True)
class GpuSample:
    index: int
    name: str
    utilisation_percent: float | None
    memory_used_bytes: int | None
    memory_total_bytes: int | None


def parse_nvidia_smi(text: str) -> list[GpuSample]:
    """Read `nvidia-smi --query-gpu=<QUERY> --format=csv,noheader,nounits` output.

    A field the driver cannot read comes as "[N/A]" or "[Not Supported]" (MIG slices, some
    virtual GPUs): it becomes None rather than failing the whole sample.
    """
    samples = []
    for line in text.strip().splitlines():
        fields = [field.strip() for field in line.split(",")]
        if len(fields) != 5 or not fields[0].isdigit():
            continue
        index, name, utilisation, used, total = fields
        samples.append(
            GpuSample(
                index=int(index),
                name=name,
                utilisation_percent=_number(utilisation),
                memory_used_bytes=_mebibytes(used),
                memory_total_bytes=_mebibytes(total),
            )
        )
    return samples


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _mebibytes(text: str) -> int | None:
    value = _number(text)
    return int(value * _MIB) if value is not None else None


def query_gpus(*, nvidia_smi: str | None = None, timeout: float = 10) -> list[GpuSample]:
    """This host's GPUs now; an empty list when there is no driver or it does not answer."""
    program = nvidia_smi or shutil.which("nvidia-smi")
    if program is None:
        return []
    try:
        out = subprocess.run(
            [program, f"--query-gpu={QUERY}", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=timeout, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        logger.warning("nvidia-smi did not answer: %s", exc)
        return []
    return parse_nvidia_smi(out)


def summary(samples: list[GpuSample]) -> str:
    """ "2 × NVIDIA H200" or "" for none: how a worker describes its GPUs."""
    if not samples:
        return ""
    names = sorted({sample.name for sample in samples})
    return f"{len(samples)} × {' / '.join(names)}"
