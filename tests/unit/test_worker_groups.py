"""The suite's time rests on --dist loadgroup keeping the xdist_group("targets") tests on one worker
(the other goes on with the rest instead of waiting on the shared exports' lock). pytest 9 broke
that silently with pytest-xdist 3.8: this runs a two-worker session on three marked tests and
checks that one worker ran them all."""
from __future__ import annotations

import subprocess
import sys


def test_marked_tests_run_on_one_worker(tmp_path):
    (tmp_path / "test_grouped.py").write_text(
        "import pytest\n"
        "pytestmark = pytest.mark.xdist_group('targets')\n"
        "@pytest.mark.parametrize('n', [1, 2, 3])\n"
        "def test_one(n):\n"
        "    pass\n"
        "def test_two():\n"
        "    pass\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-v", "-n", "2", "--dist", "loadgroup",
                             "-p", "no:cacheprovider", str(tmp_path)], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout[-2000:]
    ran = [line.split()[0] for line in result.stdout.splitlines() if " PASSED " in line and line.startswith("[gw")]
    assert len(ran) == 4 and len(set(ran)) == 1, result.stdout[-2000:]
