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

# Every TFLite builtin op the pinned TFLM registers (micro_mutable_op_resolver.h), but EXCLUDED and
# NO_INPUT_TYPES, with the input types among TYPES its reference kernel accepts (Prepare or Eval
# refuses the others). The input is the op's data input: GATHER's params, EMBEDDING_LOOKUP's
# table, FILL's value, SELECT_V2's x and y; QUANTIZE, DEQUANTIZE, CAST, the comparisons and the
# arg reductions change the type, and their row says what goes in.
TFLM_INPUT_TYPES: dict[str, tuple[str, ...]] = {
    "ABS": ("int8", "int16", "float32"),
    "ADD": ("int8", "int16", "float32"),
    "ADD_N": ("int8", "float32"),
    "ARG_MAX": ("int8", "float32"),
    "ARG_MIN": ("int8", "float32"),
    "AVERAGE_POOL_2D": ("int8", "int16", "float32"),
    "BATCH_MATMUL": ("int8", "int16", "float32"),
    "BATCH_TO_SPACE_ND": ("int8", "float32"),
    "BROADCAST_TO": ("int8", "int16", "float32"),
    "CAST": ("int8", "int16", "float32"),
    "CEIL": ("float32",),
    "CONCATENATION": ("int8", "int16", "float32"),
    "CONV_2D": ("int8", "int16", "float32"),
    "COS": ("float32",),
    "CUMSUM": ("int8", "float32"),
    "DEPTHWISE_CONV_2D": ("int8", "int16", "float32"),
    "DEPTH_TO_SPACE": ("int8", "float32"),
    "DEQUANTIZE": ("int8", "int16"),
    "DIV": ("int8", "float32"),
    "DYNAMIC_UPDATE_SLICE": ("int8", "int16", "float32"),
    "ELU": ("int8", "float32"),
    "EMBEDDING_LOOKUP": ("int8", "float32"),
    "EQUAL": ("int8", "float32"),
    "EXP": ("float32",),
    "EXPAND_DIMS": ("int8", "int16", "float32"),
    "FILL": ("int8", "float32"),
    "FLOOR": ("float32",),
    "FLOOR_DIV": ("float32",),
    "FLOOR_MOD": ("float32",),
    "FULLY_CONNECTED": ("int8", "int16", "float32"),
    "GATHER": ("int8", "float32"),
    "GATHER_ND": ("int8", "float32"),
    "GREATER": ("int8", "int16", "float32"),
    "GREATER_EQUAL": ("int8", "float32"),
    "HARD_SWISH": ("int8", "float32"),
    "L2_NORMALIZATION": ("int8", "float32"),
    "L2_POOL_2D": ("float32",),
    "LEAKY_RELU": ("int8", "int16", "float32"),
    "LESS": ("int8", "float32"),
    "LESS_EQUAL": ("int8", "float32"),
    "LOG": ("float32",),
    "LOGISTIC": ("int8", "int16", "float32"),
    "LOG_SOFTMAX": ("int8", "float32"),
    "MAXIMUM": ("int8", "int16", "float32"),
    "MAX_POOL_2D": ("int8", "int16", "float32"),
    "MEAN": ("int8", "int16", "float32"),
    "MINIMUM": ("int8", "int16", "float32"),
    "MIRROR_PAD": ("int8", "float32"),
    "MUL": ("int8", "int16", "float32"),
    "NEG": ("float32",),
    "NOT_EQUAL": ("int8", "float32"),
    "PACK": ("int8", "int16", "float32"),
    "PAD": ("int8", "int16", "float32"),
    "PADV2": ("int8", "int16", "float32"),
    "PRELU": ("int8", "int16", "float32"),
    "QUANTIZE": ("int8", "int16", "float32"),
    "REDUCE_MAX": ("int8", "float32"),
    "REDUCE_MIN": ("int8", "float32"),
    "RELU": ("int8", "int16", "float32"),
    "RELU6": ("int8", "int16", "float32"),
    "RESHAPE": ("int8", "int16", "float32"),
    "RESIZE_BILINEAR": ("int8", "float32"),
    "RESIZE_NEAREST_NEIGHBOR": ("int8", "int16", "float32"),
    "REVERSE_V2": ("int8", "int16", "float32"),
    "ROUND": ("float32",),
    # int16 too: elementwise.cc's type check names a typedef (a no-op cast), and its Prepare
    # (zero points 0) and Eval (RsqrtEvalQuantized<int16_t>) handle int16 (scripts/derive_op_matrix.py)
    "RSQRT": ("int8", "int16", "float32"),
    "SELECT_V2": ("int8", "int16", "float32"),
    "SHAPE": ("int8", "int16", "float32"),
    "SIN": ("float32",),
    "SLICE": ("int8", "int16", "float32"),
    "SOFTMAX": ("int8", "int16", "float32"),
    "SPACE_TO_BATCH_ND": ("int8", "float32"),
    "SPACE_TO_DEPTH": ("int8", "float32"),
    "SPLIT": ("int8", "int16", "float32"),
    "SPLIT_V": ("int8", "int16", "float32"),
    "SQRT": ("float32",),
    "SQUARE": ("float32",),
    "SQUARED_DIFFERENCE": ("int8", "int16", "float32"),
    "SQUEEZE": ("int8", "int16", "float32"),
    "STRIDED_SLICE": ("int8", "int16", "float32"),
    "SUB": ("int8", "int16", "float32"),
    "SUM": ("int8", "int16", "float32"),
    "SVDF": ("int8", "float32"),
    "TANH": ("int8", "int16", "float32"),
    "TRANSPOSE": ("int8", "int16", "float32"),
    "TRANSPOSE_CONV": ("int8", "int16", "float32"),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": ("int8", "int16", "float32"),
    "UNPACK": ("int8", "int16", "float32"),
    "ZEROS_LIKE": ("int8", "float32"),
}

TFLM_MATRIX: frozenset[tuple[str, str]] = frozenset(
    (op, t) for op, types in TFLM_INPUT_TYPES.items() for t in types)

_SIGNAL = "the signal library's audio front end (tflm_signal), custom ops no converter emits from a Keras model"

# The ops TFLM registers that the engines leave out on purpose, each with why.
EXCLUDED: dict[str, str] = {
    "IF": "control flow: several subgraphs, which the engines' single straight-line program has not",
    "WHILE": "control flow: several subgraphs, which the engines' single straight-line program has not",
    "CALL_ONCE": "control flow: runs an initialisation subgraph",
    "VAR_HANDLE": "resource variables: state kept in the interpreter's resource table between invokes",
    "READ_VARIABLE": "resource variables: state kept in the interpreter's resource table between invokes",
    "ASSIGN_VARIABLE": "resource variables: state kept in the interpreter's resource table between invokes",
    "DELAY": _SIGNAL, "ENERGY": _SIGNAL, "FFT_AUTO_SCALE": _SIGNAL, "FILTER_BANK": _SIGNAL,
    "FILTER_BANK_LOG": _SIGNAL, "FILTER_BANK_SPECTRAL_SUBTRACTION": _SIGNAL, "FILTER_BANK_SQUARE_ROOT": _SIGNAL,
    "FRAMER": _SIGNAL, "IRFFT": _SIGNAL, "OVERLAP_ADD": _SIGNAL, "PCAN": _SIGNAL, "RFFT": _SIGNAL,
    "STACKER": _SIGNAL, "WINDOW": _SIGNAL,
    "CIRCULAR_BUFFER": "the micro speech example's custom op (streaming state), not made by the converter",
    "ETHOSU": "a custom op delegating a compiled command stream to Arm's Ethos-U NPU; TFLM's stub returns nullptr",
    "DETECTION_POSTPROCESS": "SSD's custom post-processing (non-max suppression over boxes, float only)",
    "DECODE": "TFLM's own custom op for compressed weights (TFLM_DECODE); the engines take the decoded weights",
}

# Builtin ops TFLM registers whose kernels take none of TYPES: no pair in the matrix.
NO_INPUT_TYPES: dict[str, str] = {
    "BROADCAST_ARGS": "shapes only (int32, int64)",
    "LOGICAL_AND": "bool only", "LOGICAL_OR": "bool only", "LOGICAL_NOT": "bool only", "REDUCE_ALL": "bool only",
}

# Pairs of the matrix the engines leave out on purpose, each with the reason: neither can be proven
# against TFLM, so an engine for them would be a claim without a test. A model holding one is told
# so by name (`no engine: ...`), like any pair the engines lack.
LEFT_OUT: dict[tuple[str, str], str] = {
    ("GREATER", "int16"): "TFLM's answer is undefined: comparisons.cc compares int16 through the int8 rescaling, "
                          "on parameters its Prepare sets for int8 only, so it reads whatever the arena held",
    ("UNIDIRECTIONAL_SEQUENCE_LSTM", "int16"): "no converter makes it: TF's 16x8 quantization refuses the op "
                                               "('Quantization to 16x8-bit not yet supported'), so no model "
                                               "can carry it and no op zoo case can prove it",
}

_BOTH = ("int8", "float32")
_FLOAT = ("float32",)
_ALL = ("int8", "int16", "float32")
# The (op, input type) pairs the engines claim, read from the lowering's type checks
# (helpers/lowering): a typed step for int8 and one for float32 per op, and element moves (aliases,
# gathers, scatters), which would carry an int16 buffer too but have run only in int8 and float32
# models. int16 (int16x8: lowering/ops_int16) is claimed where a converter-made model ran identical
# to TFLM on both engines (tests/unit/test_int16_engines.py): FULLY_CONNECTED, CONV_2D,
# DEPTHWISE_CONV_2D, TRANSPOSE_CONV, the poolings, MEAN, SOFTMAX, LOGISTIC, TANH, RELU, RELU6,
# LEAKY_RELU, ADD, SUB and MUL (broadcast too), DEQUANTIZE, QUANTIZE (int16 to int16), RESHAPE,
# EXPAND_DIMS, PAD, STRIDED_SLICE, CONCATENATION, SPLIT, SPLIT_V and UNPACK, and the op zoo's int16
# cases of them (tests/unit/test_op_zoo.py), with SUM (MEAN's step), ABS (RELU's) and MAXIMUM
# (once int16 constants lowered); SQUARED_DIFFERENCE and BATCH_MATMUL (lowering/ops_int16_more) by
# their op zoo cases; PRELU (int8 alphas), and PADV2 and SQUEEZE (data moves), by op zoo cases edited
# from converter-made ones (scripts/op_zoo_derived.py: the converter makes none of them); RSQRT
# (lowering/ops_int16_more: TFLM's fixed point per element, not a table) by its op zoo case and a
# sweep of every non-negative int16 input (tests/unit/test_int16_engines.py). QUANTIZE takes float32
# (to int8 or int16), int8 (to int8) and int16 (to int16).
_INT16 = ("int8", "int16", "float32")
ENGINE_TYPES: dict[str, tuple[str, ...]] = {
    "FULLY_CONNECTED": _INT16, "CONV_2D": _INT16, "DEPTHWISE_CONV_2D": _INT16,
    "MAX_POOL_2D": _INT16, "AVERAGE_POOL_2D": _INT16, "SOFTMAX": _INT16,
    "RESHAPE": _INT16, "SQUEEZE": _INT16, "EXPAND_DIMS": _INT16,
    "QUANTIZE": _INT16, "DEQUANTIZE": ("int8", "int16"),
    "STRIDED_SLICE": _INT16, "PAD": _INT16, "PADV2": _INT16, "CONCATENATION": _INT16,
    "ADD": _INT16, "SUB": _INT16, "MUL": _INT16, "LOGISTIC": _INT16, "TANH": _INT16,
    "SPLIT": _INT16, "SPLIT_V": _INT16, "UNPACK": _INT16, "MEAN": _INT16,
    "UNIDIRECTIONAL_SEQUENCE_LSTM": _BOTH,
    # lowering/ops_unary: int8 is a table TFLM's own kernel fills, so it covers every int8 form
    # TFLM's kernel takes; float32 is the kernel's expression
    "RELU": _INT16, "RELU6": _INT16, "LEAKY_RELU": _INT16, "HARD_SWISH": _BOTH, "ELU": _BOTH, "ABS": _INT16,
    "RSQRT": _INT16, "PRELU": _INT16, "NEG": _FLOAT, "EXP": _FLOAT, "LOG": _FLOAT, "SQRT": _FLOAT, "SQUARE": _FLOAT,
    "FLOOR": _FLOAT, "CEIL": _FLOAT, "ROUND": _FLOAT, "SIN": _FLOAT, "COS": _FLOAT,
    # lowering/ops_transpose_conv: a Gather onto the zero-inserted grid, then a CONV_2D
    "TRANSPOSE_CONV": _INT16,
    "BATCH_MATMUL": _INT16,  # lowering/ops_matmul; int16: lowering/ops_int16_more
    "SUM": _INT16, "REDUCE_MAX": _BOTH, "REDUCE_MIN": _BOTH,  # lowering/ops_elementwise: groups like MEAN
    # lowering/ops_movement: index maps (GatherRuns) or CMSIS-NN's transpose; every pair proven against
    # TFLM in tests/unit/test_movement_models.py
    "TRANSPOSE": _ALL, "SLICE": _ALL, "BROADCAST_TO": _ALL, "REVERSE_V2": _ALL, "RESIZE_NEAREST_NEIGHBOR": _ALL,
    "PACK": _ALL, "GATHER": _BOTH, "GATHER_ND": _BOTH, "MIRROR_PAD": _BOTH, "SPACE_TO_DEPTH": _BOTH,
    "DEPTH_TO_SPACE": _BOTH, "SPACE_TO_BATCH_ND": _BOTH, "BATCH_TO_SPACE_ND": _BOTH,
    "FILL": _BOTH, "ZEROS_LIKE": _BOTH,  # constants at export
    "SHAPE": _ALL,  # lowering/fold: a fixed shape is a constant at export
    # lowering/ops_binary
    "MINIMUM": _ALL, "MAXIMUM": _ALL, "SQUARED_DIFFERENCE": _INT16, "DIV": _BOTH, "FLOOR_DIV": _FLOAT,
    "FLOOR_MOD": _FLOAT,
    # lowering/ops_compare: bool and int32 tensors; GREATER int16 left out (comparisons.cc runs it on
    # parameters its Prepare never sets for int16)
    "EQUAL": _BOTH, "NOT_EQUAL": _BOTH, "GREATER": _BOTH, "GREATER_EQUAL": _BOTH, "LESS": _BOTH,
    "LESS_EQUAL": _BOTH, "SELECT_V2": _ALL, "CAST": _ALL, "ARG_MAX": _BOTH, "ARG_MIN": _BOTH,
    # lowering/ops_layers: row kernels (log_softmax.h's and l2normalization.h's fixed point), the four
    # taps of RESIZE_BILINEAR, ADD_N and CUMSUM's scaled bytes
    "LOG_SOFTMAX": _BOTH, "L2_NORMALIZATION": _BOTH, "RESIZE_BILINEAR": _BOTH, "CUMSUM": _BOTH,
    "ADD_N": _BOTH, "EMBEDDING_LOOKUP": _BOTH, "L2_POOL_2D": _FLOAT,  # a gather; square, average pool, sqrt
    "SVDF": _BOTH,  # state reset before every invoke, as for the LSTM
    "DYNAMIC_UPDATE_SLICE": _ALL,  # lowering/ops_movement: the operand's copy and a Scatter
    # TFLite ops TFLM registers no kernel for: the engines run their float32 form, outside the matrix
    "RELU_N1_TO_1": (), "RELU_0_TO_1": (), "TILE": (),
}

ENGINE_PAIRS: frozenset[tuple[str, str]] = frozenset(
    (op, t) for op, types in ENGINE_TYPES.items() for t in types)


@dataclass(frozen=True)
class Coverage:
    """Which pairs of TFLM's matrix a set of supported pairs covers."""

    matrix: frozenset[tuple[str, str]]
    covered: frozenset[tuple[str, str]]
    excluded_ops: tuple[str, ...]

    @property
    def missing(self) -> frozenset[tuple[str, str]]:
        return self.matrix - self.covered

    @property
    def left_out(self) -> frozenset[tuple[str, str]]:
        """The missing pairs LEFT_OUT names with a reason."""
        return self.missing & frozenset(LEFT_OUT)

    def summary(self) -> str:
        ops = len({op for op, _ in self.matrix})
        per_type = ", ".join(f"{t} {sum(1 for _, u in self.matrix if u == t)}" for t in TYPES)
        return (f"TFLM's matrix: {len(self.matrix)} pairs over {ops} ops ({per_type}); "
                f"excluded: {len(self.excluded_ops)} ops; covered by the engines: {len(self.covered)} pairs, "
                f"missing {len(self.missing)} ({len(self.left_out)} left out with a reason)")


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
