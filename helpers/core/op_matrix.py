"""TFLM's (op, input type) matrix as data: for every TFLite builtin op the pinned TFLM registers,
the input types among int8, int16 and float32 its reference kernel accepts; the ops left out of
it, each with its reason; and the engines' coverage of it.

The matrix was derived from the pinned tree's kernels by `scripts/derive_op_matrix.py` (its
heuristic checked by hand where unsure); `tests/unit/test_op_matrix.py` runs that derivation again
and fails when this data drifts from the tree.
"""
from __future__ import annotations

from dataclasses import dataclass

TYPES = ("int8", "int16", "float32")

TFLM_MATRIX: frozenset[tuple[str, str]] = frozenset()

EXCLUDED: dict[str, str] = {}

ENGINE_PAIRS: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Coverage:
    """Which pairs of TFLM's matrix a set of supported pairs covers."""

    matrix: frozenset[tuple[str, str]]
    covered: frozenset[tuple[str, str]]
    excluded_ops: tuple[str, ...]

    @property
    def missing(self) -> frozenset[tuple[str, str]]:
        return self.matrix - self.covered

    def summary(self) -> str:
        ops = len({op for op, _ in self.matrix})
        per_type = ", ".join(f"{t} {sum(1 for _, u in self.matrix if u == t)}" for t in TYPES)
        return (f"TFLM's matrix: {len(self.matrix)} pairs over {ops} ops ({per_type}); "
                f"excluded: {len(self.excluded_ops)} ops; covered by the engines: {len(self.covered)} pairs, "
                f"missing {len(self.missing)}")


def engine_coverage(supported: frozenset[tuple[str, str]] | set[tuple[str, str]]) -> Coverage:
    """The pairs of TFLM's matrix `supported` covers (pairs outside the matrix do not count)."""
    return Coverage(matrix=TFLM_MATRIX, covered=frozenset(supported) & TFLM_MATRIX,
                    excluded_ops=tuple(sorted(EXCLUDED)))


def coverage(lowered_ops: frozenset[str]) -> Coverage:
    """The engines' coverage: the pairs they claim whose op the lowering has."""
    return engine_coverage({pair for pair in ENGINE_PAIRS if pair[0] in lowered_ops})


def format_matrix(pairs: frozenset[tuple[str, str]]) -> str:
    """One line per op: `CONV_2D: int8 int16 float32`, ops sorted, types in TYPES' order."""
    ops = sorted({op for op, _ in pairs})
    return "\n".join(f"{op}: " + " ".join(t for t in TYPES if (op, t) in pairs) for op in ops)
