"""convviz.realdata as a package: what importing it pulls in.

The package is split into one module per job, each tested in the file named after it:
tests/test_realdata_inputs.py, _kernels, _runs, _demos, _window and _pictures. The tests
use the names the package re-exports (``from convviz import realdata as rd``).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_realdata_imports_no_streamlit():
    import subprocess
    import sys

    code = ("import sys, convviz.realdata; "
            "assert 'streamlit' not in sys.modules, 'streamlit imported'; "
            "assert 'matplotlib.pyplot' not in sys.modules; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=False)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
