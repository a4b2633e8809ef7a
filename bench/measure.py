"""Run a command and print its wall time and peak memory (max RSS of the process tree's largest child).

    python bench/measure.py CMD ARGS...   ->  {"seconds": ..., "peak_rss_mb": ..., "returncode": ...}
"""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

if __name__ == "__main__":
    start = time.perf_counter()
    result = subprocess.run(sys.argv[1:], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"seconds": round(seconds, 2), "peak_rss_mb": round(peak_kb / 1024, 1),
                      "returncode": result.returncode, "stdout": result.stdout[-2000:]}))
