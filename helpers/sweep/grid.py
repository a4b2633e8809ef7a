"""The sweep's grid as data: axes from --sweep_grid (JSON), else the model's specs `sweep` block,
else the default (pruning off and at each sparsity, clustering off and on, every PTQ type, QAT)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.core.quantization import ALL_PTQ, Quantization
from helpers.core.specs import Specs
from helpers.errors import ConfigError

DEFAULT_SPARSITIES = (0.5, 0.8)
DEFAULT_CLUSTERS = 16
AXES = ("pruning", "clustering", "ptq", "qat")


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

    def label(self) -> str:
        return " ".join(self.flags())


@dataclass(frozen=True)
class Grid:
    """The values per axis; the combinations are their product."""

    pruning: tuple[float | None, ...]     # None: unpruned
    clustering: tuple[int | None, ...]    # None: unclustered
    ptq: tuple[str, ...]                  # -q values
    qat: bool

    def combinations(self) -> list[Combination]:
        modes = [("PTQ", q) for q in self.ptq] + ([("QAT", "int8")] if self.qat else [])
        return [Combination(mode, quantization, sparsity, clusters)
                for sparsity in self.pruning for clusters in self.clustering for mode, quantization in modes]


def default_grid(specs: Specs, sweep_sparsity: tuple[float, ...]) -> Grid:
    """Today's grid: pruning off and at each sparsity, clustering off and on, every PTQ type and QAT."""
    if sweep_sparsity:
        sparsities: tuple[float, ...] = sweep_sparsity
    elif "final_sparsity" in specs.block("pruning"):
        sparsities = (specs.setting("pruning", "final_sparsity", 0.5, float, 0.01, 0.99),)
    else:
        sparsities = DEFAULT_SPARSITIES
    clusters = specs.setting("clustering", "clusters", DEFAULT_CLUSTERS, int, 2, 256)
    return Grid(pruning=(None, *sparsities), clustering=(None, clusters), ptq=tuple(q.value for q in ALL_PTQ), qat=True)


def load_grid(path: Path | None, specs: Specs, sweep_sparsity: tuple[float, ...]) -> Grid:
    """--sweep_grid, else the specs' `sweep` block, else the default; unknown or bad values are a
    ConfigError naming the axis."""
    if path is not None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise ConfigError(f"--sweep_grid cannot be read ({error.strerror})", "pass a JSON file", path) from None
        except json.JSONDecodeError as error:
            raise ConfigError(f"--sweep_grid is not JSON (line {error.lineno}: {error.msg})",
                              'write e.g. {"pruning": [null, 0.5], "ptq": ["int8"], "qat": false}', path) from None
        return _parse(data, default_grid(specs, sweep_sparsity), str(path))
    block = specs.block("sweep")
    return _parse(block, default_grid(specs, sweep_sparsity), "specs.json sweep") if block else \
        default_grid(specs, sweep_sparsity)


def _parse(data: Any, default: Grid, where: str) -> Grid:
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a JSON object of axes", f"use the keys {', '.join(AXES)}")
    unknown = sorted(set(data) - set(AXES))
    if unknown:
        raise ConfigError(f"{where} has unknown axis {', '.join(unknown)}", f"use the keys {', '.join(AXES)}")
    pruning = tuple(_values(data, "pruning", default.pruning, where, _sparsity))
    clustering = tuple(_values(data, "clustering", default.clustering, where, _clusters))
    ptq = tuple(_values(data, "ptq", default.ptq, where, _ptq))
    qat = data.get("qat", default.qat)
    if not isinstance(qat, bool):
        raise ConfigError(f"{where}: qat must be true or false", "e.g. \"qat\": false")
    grid = Grid(pruning=pruning, clustering=clustering, ptq=ptq, qat=qat)
    if not grid.combinations():
        raise ConfigError(f"{where} gives no combination", "list at least one ptq type or set qat to true")
    return grid


def _values(data: dict[str, Any], axis: str, default: tuple, where: str, check: Any) -> list:
    values = data.get(axis, list(default))
    if not isinstance(values, list) or (axis != "ptq" and not values):
        raise ConfigError(f"{where}: {axis} must be a list", f'e.g. "{axis}": {_EXAMPLE[axis]}')
    try:
        return list(dict.fromkeys(check(value) for value in values))
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: bad {axis} value ({error})", f'e.g. "{axis}": {_EXAMPLE[axis]}') from None


_EXAMPLE = {"pruning": "[null, 0.5, 0.8]", "clustering": "[null, 16]", "ptq": '["int8", "float16"]'}


def _sparsity(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.01 <= value <= 0.99:
        raise ValueError(f"{value!r} is not null or a sparsity from 0.01 to 0.99")
    return float(value)


def _clusters(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= 256:
        raise ValueError(f"{value!r} is not null or 2..256 centroids")
    return value


def _ptq(value: Any) -> str:
    names = {q.value for q in ALL_PTQ}
    value = {"int16x8": Quantization.INT16X8.value}.get(value, value)
    if value not in names:
        raise ValueError(f"{value!r} is not one of {', '.join(sorted(names))}")
    return value
