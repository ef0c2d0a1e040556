"""The benchmarks still run: each script, at its smallest size, exits 0 and prints its figures.

Benchmarks are not timed here (figures on a shared machine mean nothing in a test); this only
keeps them from rotting when the code they call is renamed (bench_pages once called a
``schema.FAMILIES`` that no longer existed). The classroom benchmark's short run also checks
its own protocol against a real server: every change it sends comes back as a finished run
(at most one per student still waiting at the end), with no error and no lost setting.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*argv: str, timeout: float = 300) -> str:
    done = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


@pytest.mark.parametrize("argv, printed", [
    (("benchmarks/bench_pages.py", "--repeats", "1"), "summary: slowest default page picture"),
    (("benchmarks/bench_trace.py", "--repeats", "1"), "ratio trace / forward"),
    (("benchmarks/bench_engine.py", "--repeats", "1", "--blocks", "1", "--no-torch",
      "--no-memory", "--cases", "conv2d k3"), "summary (best): GEMM-bound cases"),
    (("benchmarks/bench_engine.py", "--repeats", "1", "--blocks", "1", "--no-torch",
      "--no-memory", "--cases", "conv2d k3,conv2d k3 cf,conv2d k3 f64"),
     "channels_first time / channels_last time: conv2d k3 cf"),
    (("benchmarks/bench_engine.py", "--repeats", "1", "--blocks", "1", "--no-torch",
      "--cases", "conv3d,depthwise cf"), "summary: peak RSS within the bound on 3 of 3 cases"),
    (("benchmarks/bench_realdata.py", "--repeats", "1", "--cases", "conv2d"), "to_png of"),
])
def test_benchmark_runs_and_prints_its_figures(argv, printed):
    assert printed in _run(*argv)


def test_classroom_benchmark_drives_a_real_server_without_errors(tmp_path):
    out = tmp_path / "class.json"
    text = _run("benchmarks/bench_classroom.py", "--students", "2", "--duration", "8",
                "--json", str(out))
    assert "latency p50 / p95 / max" in text
    (result,) = json.loads(out.read_text())
    s = result["summary"]
    assert s["students"] == 2 and s["processes"] == 1
    # a student sends a change once its previous run has finished: at most one per student
    # can still be waiting when the run ends (a loaded machine), none can be lost otherwise
    assert s["changes_sent"] >= 2
    assert s["changes_due"] - s["students"] <= s["changes_sent"] <= s["changes_due"]
    assert s["errors"] == 0 and s["lost_state_students"] == 0
    assert s["runs"] >= s["changes_sent"]
    # the server's render worker (started with it, matplotlib loaded) is told apart
    assert 20 < s["workers_mem_end_mb"] < s["server_mem_end_mb"]
    assert "of which render workers" in text
