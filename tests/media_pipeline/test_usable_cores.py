"""Thread pools are sized by the cores a container may use, not the host's count."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from media_pipeline.tools import _cgroup_cpu_quota, usable_cores


@pytest.mark.parametrize(
    ("cpu_max", "cores"),
    [("200000 100000\n", 2), ("150000 100000\n", 2), ("50000 100000\n", 1), ("max 100000\n", None)],
)
def test_a_cgroup_v2_quota_is_read_in_whole_cores(tmp_path: Path, cpu_max, cores):
    (tmp_path / "cpu.max").write_text(cpu_max)
    assert _cgroup_cpu_quota(tmp_path) == cores


@pytest.mark.parametrize(("quota", "cores"), [("300000", 3), ("-1", None)])
def test_a_cgroup_v1_quota_is_read_too(tmp_path: Path, quota, cores):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text(f"{quota}\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert _cgroup_cpu_quota(tmp_path) == cores


def test_no_cgroup_files_means_no_quota(tmp_path: Path):
    assert _cgroup_cpu_quota(tmp_path) is None


def test_usable_cores_never_exceed_the_cpu_set_or_the_quota(monkeypatch):
    assert 1 <= usable_cores() <= len(os.sched_getaffinity(0))
    monkeypatch.setattr("media_pipeline.tools._cgroup_cpu_quota", lambda: 1)
    assert usable_cores() == 1
