"""Reading nvidia-smi: recorded output from real hosts, including fields the driver lacks."""

from __future__ import annotations

import stat
from pathlib import Path

from media_pipeline.gpu import GpuSample, parse_nvidia_smi, query_gpus, summary

# `nvidia-smi --query-gpu=index,name,utilization.gpu,memory.used,memory.total
#  --format=csv,noheader,nounits` on a two-GPU host, and on a MIG-partitioned H200.
TWO_GPUS = """0, NVIDIA L4, 37, 5120, 23034
1, NVIDIA L4, 0, 1, 23034
"""
MIG = "0, NVIDIA H200, [N/A], 18305, 143771\n"


def test_two_gpus_are_read_with_utilisation_and_memory_in_bytes():
    assert parse_nvidia_smi(TWO_GPUS) == [
        GpuSample(0, "NVIDIA L4", 37.0, 5120 * 1024**2, 23034 * 1024**2),
        GpuSample(1, "NVIDIA L4", 0.0, 1024**2, 23034 * 1024**2),
    ]
    assert summary(parse_nvidia_smi(TWO_GPUS)) == "2 × NVIDIA L4"


def test_a_field_the_driver_cannot_read_is_none_not_an_error():
    [sample] = parse_nvidia_smi(MIG)
    assert sample.utilisation_percent is None and sample.memory_total_bytes == 143771 * 1024**2


def test_error_text_and_no_gpu_give_no_samples(tmp_path: Path):
    assert parse_nvidia_smi("NVIDIA-SMI has failed because it couldn't communicate") == []
    assert query_gpus(nvidia_smi=str(tmp_path / "missing")) == []
    failing = tmp_path / "nvidia-smi"
    failing.write_text("#!/bin/sh\necho 'No devices were found' >&2\nexit 6\n")
    failing.chmod(failing.stat().st_mode | stat.S_IEXEC)
    assert query_gpus(nvidia_smi=str(failing)) == []
    assert summary([]) == ""


def test_a_recorded_answer_is_read_through_the_program(tmp_path: Path):
    fake = tmp_path / "nvidia-smi"
    fake.write_text(f"#!/bin/sh\ncat <<'EOF'\n{MIG}EOF\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    [sample] = query_gpus(nvidia_smi=str(fake))
    assert sample.name == "NVIDIA H200" and sample.memory_used_bytes == 18305 * 1024**2
