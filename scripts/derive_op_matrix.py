"""Derive TFLM's (op, input type) matrix from the pinned tree's kernel sources and print it; with
--coverage, the engines' coverage of it. `helpers/core/op_matrix.py` holds the result as data and
`tests/unit/test_op_matrix.py` runs this derivation to keep the two equal.

How: `micro_mutable_op_resolver.h` says which `Register_XXX()` each Add method registers and for
which builtin op; the kernel file defining `Register_XXX()` names its Prepare and Eval functions;
from those, every function of the kernel's files (foo.cc, foo_common.cc, foo.h) they reach is
read for the three types. A type counts as an input type when it is a `case` of a switch on an
input tensor's type, or compared with an input tensor's type. The heuristic is checked by hand
where it is unsure (no input evidence, or mentions beyond it) and where it is wrong: OVERRIDES
below says what those kernels really accept and CHECKED why the others' extra mentions do not
count, each with why.

    python scripts/derive_op_matrix.py [--tflm DIR] [--coverage] [--unsure]
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers.core.op_matrix import EXCLUDED, LEFT_OUT, TFLM_MATRIX, TYPES, coverage, format_matrix  # noqa: E402
from helpers.lowering.lower import LOWERINGS  # noqa: E402

HEADER = Path("tensorflow/lite/micro/micro_mutable_op_resolver.h")
KERNELS = Path("tensorflow/lite/micro/kernels")
_TYPE_NAMES = {"kTfLiteInt8": "int8", "kTfLiteInt16": "int16", "kTfLiteFloat32": "float32"}
_TYPE = r"kTfLite(?:Int8|Int16|Float32)\b"
# A tensor whose type the kernel switches on or compares: an input (input, input1, input_x, lhs,
# value) or the output, as most kernels ensure the output's type is the input's first; the ops
# whose output type differs (QUANTIZE, CAST, the comparisons...) are read by hand in OVERRIDES.
_INPUT = r"(?:input\w*|output\w*|lhs|value|params|operand\w*|op_context\.(?:input|output)|tensor_in|out)"
_DEF = re.compile(r"(?:^|\n)[\w:<>,*&\s]*?\b(\w+)\s*(?:<[^;{}()]*>)?\s*\([^;{}]*\)\s*(?:const\s*)?\{")
_KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "catch"}

# Where the heuristic reads a kernel wrongly, what the kernel accepts, and why (read by hand in the
# pinned tree; the derivation reports an override it no longer needs).
OVERRIDES: dict[str, tuple[str, ...]] = {
    # No type check at all: the kernels copy bytes (or read dims) for any type but string.
    "RESHAPE": TYPES, "SQUEEZE": TYPES, "BROADCAST_TO": TYPES,
    "SHAPE": TYPES,  # checks only that its output is int32
    # Shapes only (int32, int64): no int8, int16 or float32 input.
    "BROADCAST_ARGS": (),
    # bool only (IsLogicalSupportedType; logical.cc's LogicalImpl<bool>; PrepareAllHelper ensures
    # kTfLiteBool): the int8 the heuristic reads is PrepareSimple's, shared with the other reductions.
    "LOGICAL_AND": (), "LOGICAL_OR": (), "LOGICAL_NOT": (), "REDUCE_ALL": (),
    # float32 is DEQUANTIZE's output type (Prepare ensures it); the inputs are int8, int16 (and uint8).
    "DEQUANTIZE": ("int8", "int16"),
    # No RSQRT entry: the heuristic reads int8, int16 and float32, rightly. PrepareAbsRsqrt's
    # `if (!IsSupportedType(input->type))` names the typedef, not the (unnamed) template parameter:
    # a cast of the type to a function pointer, non-null for every real type, so nothing is checked and
    # IsRsqrtSupportedType (float32, int8) is never called. Prepare handles int16 (zero points 0, the
    # multiplier of 1 / (sqrt(input scale) * output scale)) and Eval runs RsqrtEvalQuantized<int16_t>.
    # IsNumericSupportedType (float32 only), passed as a template argument, not a switch.
    "SIN": ("float32",), "COS": ("float32",), "LOG": ("float32",), "SQRT": ("float32",), "SQUARE": ("float32",),
    # The switch is on `activation_type` (the input's): float32, int8 (8x8 weights), int16 (16x8).
    "UNIDIRECTIONAL_SEQUENCE_LSTM": TYPES,
}

# Ops where the reachable functions mention a type beyond the input types the heuristic found,
# read by hand and found right (the extra type belongs to another tensor).
CHECKED: dict[str, str] = {
    "FILL": "int16 is a case of the dims tensor's type (fill.cc's EnsureEq); the value switch is float32, int32, int8",
    "SVDF": "int16 is weights_time's and activation_state's type in the int8 kernel; the input is int8 or float32",
}


@dataclass(frozen=True)
class Registration:
    """One Add method of the resolver: the op it registers, its Register_ function, builtin or not."""

    method: str
    op: str
    register: str
    builtin: bool


@dataclass(frozen=True)
class Evidence:
    """What the heuristic read for one op: the kernel file, the input types it is sure of and every
    type the reachable functions mention."""

    op: str
    kernel: str
    sure: frozenset[str]
    mentioned: frozenset[str]

    @property
    def unsure(self) -> bool:
        return not self.sure or not self.mentioned <= self.sure


def registrations(tflm: Path) -> list[Registration]:
    """Every Add method of MicroMutableOpResolver but AddCustom and AddBuiltin."""
    text = (tflm / HEADER).read_text(encoding="utf-8")
    blocks = re.split(r"\n\s*TfLiteStatus (?=Add)", text)[1:]
    found = []
    for block in blocks:
        method = block.split("(", 1)[0]
        if method in ("AddCustom", "AddBuiltin"):
            continue
        register = re.search(r"Register_(\w+)\(\)", block)
        builtin = re.search(r"AddBuiltin\(\s*BuiltinOperator_(\w+)", block)
        if register is None:  # a new form of Add method: read it rather than let its op vanish
            raise LookupError(f"{method} names no Register_ function")
        op = builtin.group(1) if builtin else register.group(1)
        found.append(Registration(method=method, op=op, register=register.group(1), builtin=builtin is not None))
    return found


def _body_end(text: str, start: int) -> int:
    """The index after the brace block opening at text[start] == '{'."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index + 1
    return len(text)


def _strip_comments(text: str) -> str:
    return re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.S)


def functions(paths: list[Path]) -> dict[str, str]:
    """Function name -> its bodies (overloads and templates joined), over the kernel's files."""
    bodies: dict[str, str] = {}
    for path in paths:
        text = _strip_comments(path.read_text(encoding="utf-8"))
        for match in _DEF.finditer(text):
            name = match.group(1)
            if name in _KEYWORDS:
                continue
            end = _body_end(text, match.end() - 1)
            bodies[name] = bodies.get(name, "") + text[match.end() - 1:end]
    return bodies


def kernel_of(tflm: Path, register: str) -> tuple[Path, str] | None:
    """The kernel file defining Register_<register>() and the RegisterOp(...) text it returns."""
    pattern = re.compile(r"TFLMRegistration\*?\s+Register_" + register + r"\(\)\s*\{(.*?)\n\}", re.S)
    for path in sorted((tflm / KERNELS).glob("*.cc")):
        if path.name.endswith("_test.cc"):
            continue
        match = pattern.search(path.read_text(encoding="utf-8"))
        if match:
            return path, match.group(1)
    return None


def _siblings(path: Path) -> list[Path]:
    """foo.cc with foo_common.cc and foo.h: one kernel's Prepare and Eval live across them."""
    stem = path.stem
    return [p for p in (path, path.with_name(f"{stem}_common.cc"), path.with_name(f"{stem}.h")) if p.is_file()]


def reachable(roots: set[str], bodies: dict[str, str]) -> str:
    """The text of every function reached from `roots` through calls (or template arguments)."""
    seen: set[str] = set()
    todo = [name for name in roots if name in bodies]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += [word for word in set(re.findall(r"\b\w+\b", bodies[name])) if word in bodies and word not in seen]
    return "\n".join(bodies[name] for name in sorted(seen))


_SWITCH = re.compile(r"switch\s*\(([^{]*)\)\s*\{")


def _own_block(body: str) -> str:
    """A switch's block without the blocks of the switches nested in it, whose cases are theirs."""
    inner = body[1:]
    while (nested := _SWITCH.search(inner)) is not None:
        inner = inner[:nested.start()] + inner[_body_end(inner, nested.end() - 1):]
    return inner


def switch_cases(text: str) -> list[tuple[str, str]]:
    """(switch expression, case type) for every `case kTfLiteX:` directly under a switch."""
    pairs = []
    for match in _SWITCH.finditer(text):
        start = match.end() - 1
        own = _own_block(text[start:_body_end(text, start)])
        pairs += [(match.group(1), case) for case in re.findall(r"case\s+(" + _TYPE + r")\s*:", own)]
    return pairs


def input_types(text: str) -> frozenset[str]:
    """Types a switch on an input's type takes, or an input's type is compared with."""
    found = {case for expr, case in switch_cases(text) if re.search(_INPUT + r"(?:->|\.|_)type|^type$", expr.strip())}
    compared = _INPUT + r"(?:->|_)type\s*[!=]=\s*(" + _TYPE + ")|(" + _TYPE + r")\s*[!=]=\s*" + _INPUT + r"->type"
    for match in re.finditer(compared, text):
        found.add(match.group(1) or match.group(2))
    ensure = r"TF_LITE_ENSURE_TYPES_EQ\(\s*context,\s*" + _INPUT + r"->type,\s*(" + _TYPE + ")"
    found |= set(re.findall(ensure, text))
    return frozenset(_TYPE_NAMES[t] for t in found)


def evidence(tflm: Path, registration: Registration) -> Evidence | None:
    """What the kernel of one builtin op says about its input types."""
    kernel = kernel_of(tflm, registration.register)
    if kernel is None:
        return None
    path, register_body = kernel
    bodies = functions(_siblings(path))
    roots = set(re.findall(r"\b\w+\b", register_body))
    text = reachable(roots, bodies)
    mentioned = frozenset(_TYPE_NAMES[t] for t in re.findall(_TYPE, text))
    return Evidence(op=registration.op, kernel=path.name, sure=input_types(text), mentioned=mentioned)


@dataclass(frozen=True)
class Derivation:
    """The matrix read from a tree, with what it was read from."""

    pairs: frozenset[tuple[str, str]]
    read: tuple[Evidence, ...]
    registered: tuple[Registration, ...]

    def notes(self) -> list[str]:
        """Why the heuristic needed a hand for each op it is unsure of."""
        lines = []
        for found in self.read:
            if found.unsure:
                hand = "override" if found.op in OVERRIDES else "checked" if found.op in CHECKED else "UNREAD"
                lines.append(f"{found.op} ({found.kernel}): input types read {sorted(found.sure)}, "
                             f"mentioned {sorted(found.mentioned)}; {hand}")
        return lines

    def problems(self) -> list[str]:
        """What needs a reader: an unsure op neither overridden nor checked, an override the
        heuristic now reads by itself, an override or check for an op the tree does not register."""
        found = []
        for evidence_ in self.read:
            if evidence_.unsure and evidence_.op not in OVERRIDES and evidence_.op not in CHECKED:
                found.append(f"{evidence_.op}: the heuristic is unsure and no one has read {evidence_.kernel}")
            if evidence_.op in OVERRIDES and evidence_.sure and set(OVERRIDES[evidence_.op]) == evidence_.sure:
                found.append(f"{evidence_.op}: the override says what the heuristic reads; remove it")
        read_ops = {evidence_.op for evidence_ in self.read}
        found += [f"{op}: overridden or checked but not a builtin of the tree" for op in
                  sorted((set(OVERRIDES) | set(CHECKED)) - read_ops)]
        return found


def derive(tflm: Path, excluded: frozenset[str]) -> Derivation:
    """The matrix (OVERRIDES applied) and the evidence of every builtin op outside `excluded`."""
    pairs: set[tuple[str, str]] = set()
    read: list[Evidence] = []
    registered = tuple(registrations(tflm))
    for registration in registered:
        if not registration.builtin or registration.op in excluded:
            continue
        found = evidence(tflm, registration)
        if found is None:
            raise LookupError(f"no kernel defines Register_{registration.register}()")
        read.append(found)
        types = OVERRIDES.get(found.op, tuple(found.sure))
        pairs |= {(found.op, t) for t in types}
    return Derivation(pairs=frozenset(pairs), read=tuple(read), registered=registered)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_tree = Path(os.environ.get("TFLM_DIR") or ROOT.parent / "shared" / "tflm")
    parser.add_argument("--tflm", type=Path, default=default_tree, help="the TFLM tree (default: $TFLM_DIR)")
    parser.add_argument("--coverage", action="store_true", help="the engines' coverage of the matrix")
    parser.add_argument("--unsure", action="store_true", help="the ops the heuristic needed a hand for, and why")
    args = parser.parse_args()
    derivation = derive(args.tflm, frozenset(EXCLUDED))
    print(format_matrix(derivation.pairs))
    if args.unsure:
        print("\n".join(["", "the heuristic needed a hand for:"] + derivation.notes()))
    if args.coverage:
        engines = coverage(frozenset(LOWERINGS))
        print("\n" + engines.summary() + "\nmissing from the engines:\n" + format_matrix(engines.missing))
        for (op, dtype), reason in sorted(LEFT_OUT.items()):
            print(f"  left out: {op} {dtype}: {reason}")
    drift = sorted(derivation.pairs ^ TFLM_MATRIX)
    for problem in derivation.problems() + ([f"helpers/core/op_matrix.py differs: {drift}"] if drift else []):
        print(problem, file=sys.stderr)
    return 1 if drift or derivation.problems() else 0


if __name__ == "__main__":
    sys.exit(main())
