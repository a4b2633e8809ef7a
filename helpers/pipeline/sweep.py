"""--sweep: the grid of pruning, clustering, PTQ types and QAT on one model, as a spreadsheet.

Every combination runs as its own `main.py` process (bounded by --jobs), so the converter's
memory growth never accumulates and a failing combination is just a row with its error.
Results go to `<export>/config_combinations.ods` (OpenDocument, via pandas + odfpy) and `.csv`.
"""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.config import RunConfig
from helpers.core.paths import MAIN_SCRIPT
from helpers.core.quantization import ALL_PTQ
from helpers.core.specs import Specs

log = logging.getLogger("mcu_deploy")

DEFAULT_SPARSITIES = (0.5, 0.8)
DEFAULT_CLUSTERS = 16
COMBINATION_TIMEOUT_S = 3600


@dataclass(frozen=True)
class Combination:
    """One cell of the grid."""

    mode: str                 # "PTQ" or "QAT"
    quantization: str         # a -q value, or "int8" for QAT
    sparsity: float | None    # None: not pruned
    clusters: int | None      # None: not clustered

    def flags(self) -> list[str]:
        """main.py flags for this combination."""
        flags = ["--PTQ", "-q", self.quantization] if self.mode == "PTQ" else ["--QAT"]
        if self.sparsity is not None:
            flags += ["--prune", "--sparsity", str(self.sparsity)]
        if self.clusters is not None:
            flags += ["--cluster", str(self.clusters)]
        return flags


def grid(specs: Specs, config: RunConfig) -> list[Combination]:
    """Pruning off/on at each sparsity, clustering off/on, every PTQ type and QAT."""
    if config.sweep_sparsity:
        sparsities: tuple[float, ...] = config.sweep_sparsity
    elif "final_sparsity" in specs.block("pruning"):
        sparsities = (specs.setting("pruning", "final_sparsity", 0.5, float, 0.01, 0.99),)
    else:
        sparsities = DEFAULT_SPARSITIES
    clusters = specs.setting("clustering", "clusters", DEFAULT_CLUSTERS, int, 2, 256)
    modes = [("PTQ", q.value) for q in ALL_PTQ] + [("QAT", "int8")]
    return [Combination(mode, quantization, sparsity, cluster)
            for sparsity in (None, *sparsities) for cluster in (None, clusters) for mode, quantization in modes]


def _final_row(report: dict[str, Any]) -> dict[str, Any]:
    variants = [v for v in report["variants"] if v["format"] == "tflite"]
    final = variants[-1]
    metric = report["primary_metric"]
    firmware = final.get("firmware", {})
    row: dict[str, Any] = {"variant": final["name"]}
    if final.get("error"):
        row["error"] = final["error"]
        return row
    row.update({name: value for name, value in final["metrics"].items()})
    row[f"delta_{metric}"] = final.get("delta", {}).get(metric)
    row.update(size_bytes=final["size_bytes"], compressed_size_bytes=final["compressed_size_bytes"],
               sparsity=final.get("weights", {}).get("sparsity"),
               tflm_runnable=firmware.get("tflm_runnable"), tensor_arena_bytes=firmware.get("tensor_arena_bytes"),
               within_tolerance=final.get("within_tolerance"))
    return row


def run_combination(model_dir: Path, combination: Combination, workdir: Path, index: int) -> dict[str, Any]:
    """One combination in its own process; a failure becomes the row's error."""
    export = workdir / f"combination_{index:03d}"
    start = time.perf_counter()
    result = subprocess.run([sys.executable, str(MAIN_SCRIPT), "--input_dir", str(model_dir), "--export_dir", str(export),
                             "--quiet", *combination.flags()], capture_output=True, text=True,
                            timeout=COMBINATION_TIMEOUT_S)
    row: dict[str, Any] = {"pruning": combination.sparsity is not None, "sparsity_target": combination.sparsity,
                           "clustering": combination.clusters is not None, "clusters": combination.clusters,
                           "mode": combination.mode, "quantization": combination.quantization}
    report_path = export / "report.json"
    if result.returncode in (0, 3) and report_path.is_file():  # 3: written, but outside tolerance or budget
        row.update(_final_row(json.loads(report_path.read_text(encoding="utf-8"))))
    else:
        lines = [line for line in result.stderr.strip().splitlines() if line.startswith("error:")]
        row["error"] = lines[-1][len("error: "):] if lines else f"exit code {result.returncode}"
    row["seconds"] = round(time.perf_counter() - start, 1)
    return row


def run_combinations(model_dir: Path, combinations: list[Combination], jobs: int) -> pd.DataFrame:
    """Every combination, `jobs` at a time; rows in grid order."""
    with tempfile.TemporaryDirectory(prefix="mcu-deploy-sweep-") as tmp:
        def work(item: tuple[int, Combination]) -> dict[str, Any]:
            index, combination = item
            row = run_combination(model_dir, combination, Path(tmp), index)
            status = row.get("error") or ", ".join(f"{k} {row[k]:.4g}" for k in ("accuracy", "mae") if k in row)
            log.info("[%d/%d] %s: %s", index + 1, len(combinations), " ".join(combination.flags()), status)
            return row

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            rows = list(pool.map(work, enumerate(combinations)))
    return pd.DataFrame(rows)


def write_tables(table: pd.DataFrame, folder: Path) -> tuple[Path, Path]:
    """config_combinations.ods and .csv with the same rows."""
    ods, csv = folder / "config_combinations.ods", folder / "config_combinations.csv"
    table.to_csv(csv, index=False)
    table.to_excel(ods, engine="odf", index=False, sheet_name="combinations")
    return ods, csv
