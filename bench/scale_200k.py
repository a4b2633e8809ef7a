"""Scale: a 200,000-row CSV through load, int8 conversion, LiteRT and TFLM evaluation.

    python bench/scale_200k.py      # prints wall time and peak memory; about a minute

Rows are the shipped digits CSV resampled with a fixed seed, so labels stay meaningful.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
ROWS = 200_000


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="mcu-deploy-scale-") as tmp:
        model_dir = Path(tmp) / "digits_200k"
        model_dir.mkdir()
        shutil.copy(ROOT / "models" / "digits_cnn" / "digits_cnn.h5", model_dir)
        specs = json.loads((ROOT / "models" / "digits_cnn" / "specs.json").read_text())
        specs.pop("dataset")
        (model_dir / "specs.json").write_text(json.dumps(specs))
        frame = pd.read_csv(ROOT / "dataset" / "digits.csv")
        rows = np.random.default_rng(0).integers(0, len(frame), ROWS)
        frame.iloc[rows].to_csv(model_dir / "data.csv", index=False)
        csv_mb = (model_dir / "data.csv").stat().st_size / 2**20
        result = subprocess.run([sys.executable, str(ROOT / "bench" / "measure.py"), sys.executable,
                                 str(ROOT / "main.py"), "--input_dir", str(model_dir), "--PTQ", "-q", "int8",
                                 "--quiet", "--export_dir", str(Path(tmp) / "out")],
                                capture_output=True, text=True, check=True)
        measured = json.loads(result.stdout)
        report = json.loads((Path(tmp) / "out" / "report.json").read_text())
    print(json.dumps({"rows": ROWS, "csv_mb": round(csv_mb, 1), "seconds": measured["seconds"],
                      "peak_rss_mb": measured["peak_rss_mb"], "returncode": measured["returncode"],
                      "timings": report["timings"], "evaluation_rows": report["evaluation_rows"],
                      "int8": report["variants"][-1]["metrics"],
                      "tflm": report["variants"][-1]["firmware"].get("tflm_metrics")}, indent=1))


if __name__ == "__main__":
    main()
