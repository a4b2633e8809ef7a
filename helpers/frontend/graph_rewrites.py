"""Rewrites of the traced TensorFlow function, before conversion, where the converter would emit
an op TFLM has no kernel for (or that int8 and int16x8 cannot express). They act on the frozen
GraphDef of the batch-1 function, so they catch the op however the model was written (Keras 2 or
3, a SavedModel's own graph, onnx2tf's output); a model without those ops is left as traced.

- gelu_erf_to_logistic: TensorFlow's exact GELU is 0.5*x*erfc(-x/sqrt(2)) (Erfc; Erf in other
  writings), which the converter fuses into GELU; TFLM has no GELU kernel. Each Erfc/Erf becomes
  the tanh approximation of erf, written with LOGISTIC (1 + tanh(z) = 2*sigmoid(2z)) so the
  converter cannot fuse it back: approximate (|gelu error| <= 4.8e-4 for every x; the variant's
  metric against Keras shows its cost).
- gelu_tanh_to_logistic: the tanh form (approximate=True) is fused into GELU too; its Tanh, fed by
  x**3, becomes 2*sigmoid(2z) - 1: exact (an identity; float rounding only).
- neg_to_mul: Keras 3's LayerNormalization computes -mean*inv (NEG), which the converter keeps in
  float under int8 and refuses under int16x8; each float Neg(x) becomes Mul(x, -1), which both
  quantize: exact (-1 is exact in int8 and int16). Not Sub(0, x): a constant 0 is quantized with
  scale 0, and LiteRT's int16 SUB aborts the process on it.
- power_to_mul: Pow(x, n) with a constant whole n from 2 to 4 (GELU's tanh form computes x**3
  with it) and Square(x) (GroupNormalization's variance) become a chain of Mul: TFLM has no POW
  kernel, and int8 cannot express POW or SQUARE (the converter keeps them in float); MUL of a
  tensor by itself quantizes. Exact (float rounding only).
- squared_difference_to_mul: a SquaredDifference of more than 4 dimensions (GroupNormalization's
  variance, taken over a (batch, H, W, groups, channels) view) is lowered by the converter to SUB
  and a SQUARE that int8 cannot express; it becomes Sub then Mul(d, d). Up to 4 dimensions the
  converter keeps SQUARED_DIFFERENCE, which TFLM runs, and it is left alone. Exact.
- elu_to_exp: the converter keeps ELU in float under int8 (`-q int8` stopped at "cannot express
  ELU"); Elu(x) becomes Relu(x) + (Exp(Minimum(x, 0)) - 1), which quantizes, and whose int8 EXP the
  pass after conversion (rewrite/unary_lut.py) turns into a table TFLM runs. The Minimum keeps
  Exp's input at or below 0, so its calibrated output range is [0, 1] whatever x reaches: an
  identity (float rounding only), and the int8 variant's cost shows in its metric.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from helpers.core.packing import signature_name
from helpers.core.rewrites import Rewrite, RewriteStage
from helpers.frontend.tf_runtime import tf

# erf(u) ~ tanh(2/sqrt(pi) * (u + 2*0.044715*u**3)), GELU's tanh form written for erf's argument.
_ERF_LINEAR = 2.0 / math.sqrt(math.pi)
_ERF_CUBIC = _ERF_LINEAR * 2.0 * 0.044715
_FLOATS = (tf.float32.as_datatype_enum, tf.float16.as_datatype_enum, tf.float64.as_datatype_enum)
NodeDef = Any


class _Graph:
    """A GraphDef being edited: new nodes get unique names derived from the node they replace."""

    def __init__(self, graph_def: Any, ranks: dict[str, int] | None = None) -> None:
        self.graph_def = graph_def
        self.nodes = {node.name: node for node in graph_def.node}
        self.ranks = ranks or {}  # output rank of nodes whose pass depends on it

    def constant(self, base: str, value: float, dtype: int) -> str:
        name = f"{base}/rewrite_const_{len(self.graph_def.node)}"
        node = self.graph_def.node.add(name=name, op="Const")
        node.attr["dtype"].type = dtype
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value, dtype=tf.as_dtype(dtype)))
        self.nodes[name] = node
        return name

    def op(self, base: str, op: str, inputs: list[str], dtype: int, name: str | None = None) -> str:
        name = name or f"{base}/rewrite_{op.lower()}_{len(self.graph_def.node)}"
        node = self.graph_def.node.add(name=name, op=op)
        node.input.extend(inputs)
        node.attr["T"].type = dtype
        self.nodes[name] = node  # the replacement now answers to the name its readers use
        return name

    def take_over(self, node: NodeDef) -> str:
        """Rename `node` out of the way so its replacement can take its name (readers follow the name)."""
        original = node.name
        node.name = f"{original}/rewritten_away"
        self.nodes[node.name] = node
        return original


def _dtype(node: NodeDef) -> int:
    return node.attr["T"].type


def _erf_to_logistic(graph: _Graph, node: NodeDef) -> bool:
    """Erfc(u) -> 2*sigmoid(-2*k*(u + c*u^3)); Erf(u) -> 2*sigmoid(2*k*(u + c*u^3)) - 1."""
    if node.op not in ("Erf", "Erfc") or _dtype(node) not in _FLOATS:
        return False
    dtype, u, sign = _dtype(node), node.input[0], -1.0 if node.op == "Erfc" else 1.0
    name = graph.take_over(node)
    cube = graph.op(name, "Mul", [graph.op(name, "Mul", [u, u], dtype), u], dtype)
    linear = graph.op(name, "Mul", [u, graph.constant(name, sign * 2 * _ERF_LINEAR, dtype)], dtype)
    cubic = graph.op(name, "Mul", [cube, graph.constant(name, sign * 2 * _ERF_CUBIC, dtype)], dtype)
    inner = graph.op(name, "AddV2", [linear, cubic], dtype)
    sigmoid = graph.op(name, "Sigmoid", [inner], dtype)
    if node.op == "Erfc":
        graph.op(name, "Mul", [sigmoid, graph.constant(name, 2.0, dtype)], dtype, name=name)
    else:
        doubled = graph.op(name, "Mul", [sigmoid, graph.constant(name, 2.0, dtype)], dtype)
        graph.op(name, "Sub", [doubled, graph.constant(name, 1.0, dtype)], dtype, name=name)
    return True


def _fed_by_cube(graph: _Graph, name: str, depth: int = 4) -> bool:
    """Whether a Pow(x, 3) is among the inputs of `name` within `depth` ops (GELU's tanh form)."""
    node = graph.nodes.get(name.split(":")[0].lstrip("^"))
    if node is None or depth == 0:
        return False
    if node.op == "Pow":
        return True
    return any(_fed_by_cube(graph, source, depth - 1) for source in node.input)


def _gelu_tanh_to_logistic(graph: _Graph, node: NodeDef) -> bool:
    """Tanh(z) -> 2*sigmoid(2z) - 1, for the Tanh of GELU's tanh form only (not an LSTM's)."""
    if node.op != "Tanh" or _dtype(node) not in _FLOATS or not _fed_by_cube(graph, node.input[0]):
        return False
    dtype, z = _dtype(node), node.input[0]
    name = graph.take_over(node)
    sigmoid = graph.op(name, "Sigmoid", [graph.op(name, "Mul", [z, graph.constant(name, 2.0, dtype)], dtype)], dtype)
    doubled = graph.op(name, "Mul", [sigmoid, graph.constant(name, 2.0, dtype)], dtype)
    graph.op(name, "Sub", [doubled, graph.constant(name, 1.0, dtype)], dtype, name=name)
    return True


def _neg_to_mul(graph: _Graph, node: NodeDef) -> bool:
    if node.op != "Neg" or _dtype(node) not in _FLOATS:
        return False
    dtype, x = _dtype(node), node.input[0]
    name = graph.take_over(node)
    graph.op(name, "Mul", [x, graph.constant(name, -1.0, dtype)], dtype, name=name)
    return True


def _whole_exponent(graph: _Graph, name: str) -> int | None:
    """The exponent of a Pow when it is a constant whole number from 2 to 4, else None."""
    node = graph.nodes.get(name.split(":")[0].lstrip("^"))
    if node is None or node.op != "Const":
        return None
    value = tf.make_ndarray(node.attr["value"].tensor)
    if value.size != 1 or float(value.reshape(-1)[0]) not in (2.0, 3.0, 4.0):
        return None
    return int(value.reshape(-1)[0])


def _power_to_mul(graph: _Graph, node: NodeDef) -> bool:
    """Pow(x, n) for n in 2..4 and Square(x) -> x * x (* x (* x))."""
    if node.op not in ("Pow", "Square") or _dtype(node) not in _FLOATS:
        return False
    power = 2 if node.op == "Square" else _whole_exponent(graph, node.input[1])
    if power is None:
        return False
    dtype, x = _dtype(node), node.input[0]
    name = graph.take_over(node)
    product = x
    for step in range(power - 1):
        product = graph.op(name, "Mul", [product, x], dtype, name=name if step == power - 2 else None)
    return True


def _squared_difference_to_mul(graph: _Graph, node: NodeDef) -> bool:
    """SquaredDifference(x, y) of rank > 4 -> d = x - y; d * d."""
    if node.op != "SquaredDifference" or _dtype(node) not in _FLOATS or graph.ranks.get(node.name, 0) <= 4:
        return False
    dtype, x, y = _dtype(node), node.input[0], node.input[1]
    name = graph.take_over(node)
    difference = graph.op(name, "Sub", [x, y], dtype)
    graph.op(name, "Mul", [difference, difference], dtype, name=name)
    return True


def _elu_to_exp(graph: _Graph, node: NodeDef) -> bool:
    """Elu(x) -> Relu(x) + (Exp(Minimum(x, 0)) - 1)."""
    if node.op != "Elu" or _dtype(node) not in _FLOATS:
        return False
    dtype, x = _dtype(node), node.input[0]
    name = graph.take_over(node)
    below = graph.op(name, "Minimum", [x, graph.constant(name, 0.0, dtype)], dtype)
    shifted = graph.op(name, "AddV2", [graph.op(name, "Exp", [below], dtype), graph.constant(name, -1.0, dtype)], dtype)
    graph.op(name, "AddV2", [graph.op(name, "Relu", [x], dtype), shifted], dtype, name=name)
    return True


# (name, the node rewrite, exact, what proves or measures it)
GRAPH_PASSES: tuple[tuple[str, Callable[[_Graph, NodeDef], bool], bool, str], ...] = (
    ("gelu_erf_to_logistic", _erf_to_logistic, False,
     "tanh approximation of erf (GELU off by at most 4.8e-4 for any x); its cost is the variant's Δ against Keras"),
    ("gelu_tanh_to_logistic", _gelu_tanh_to_logistic, True, "identity tanh(z) = 2*sigmoid(2z) - 1"),
    ("neg_to_mul", _neg_to_mul, True, "identity -x = x * -1"),
    ("power_to_mul", _power_to_mul, True, "identity x**n = x * ... * x for whole n (float rounding only)"),
    ("squared_difference_to_mul", _squared_difference_to_mul, True, "identity (x - y)**2 = d * d"),
    ("elu_to_exp", _elu_to_exp, True, "identity elu(x) = max(x, 0) + exp(min(x, 0)) - 1 (float rounding only)"),
)


def _candidates(ops: set[str]) -> bool:
    """Whether a pass may apply (a Tanh alone, as in an LSTM, is not GELU's: it needs the Pow)."""
    return bool(ops & {"Erf", "Erfc", "Neg", "Pow", "Square", "SquaredDifference", "Elu"})


def rewrite_graph_def(graph_def: Any, ranks: dict[str, int] | None = None) -> tuple[Any, tuple[Rewrite, ...]]:
    """A copy of the GraphDef with every pass applied, and what was applied (`ranks`: the output
    rank of the SquaredDifference nodes, from the graph they were traced in)."""
    edited = type(graph_def)()
    edited.CopyFrom(graph_def)
    graph = _Graph(edited, ranks)
    applied = []
    for name, rewrite, exact, proof in GRAPH_PASSES:
        count = sum(rewrite(graph, node) for node in list(edited.node))
        if count:
            applied.append(Rewrite(name=name, stage=RewriteStage.BEFORE_CONVERSION, ops=count, exact=exact,
                                   proof=proof))
    return edited, tuple(applied)


def _ops_of(concrete: Any) -> set[str]:
    graph_def = concrete.graph.as_graph_def()
    return {node.op for node in graph_def.node} | {
        node.op for function in graph_def.library.function for node in function.node_def}


def rewritten_function(concrete: Any) -> tuple[Any, tuple[Rewrite, ...]]:
    """The batch-1 concrete function with the passes applied (frozen first, so that every op is a
    node of one GraphDef), or the function itself when no pass applies."""
    if not _candidates(_ops_of(concrete)):
        return concrete, ()
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    try:
        frozen = convert_variables_to_constants_v2(concrete)
    except (ValueError, TypeError, tf.errors.OpError):  # a graph TensorFlow cannot freeze: converted as traced
        return concrete, ()
    ranks = {op.name: op.outputs[0].shape.rank for op in frozen.graph.get_operations()
             if op.type == "SquaredDifference" and op.outputs[0].shape.rank is not None}
    graph_def, applied = rewrite_graph_def(frozen.graph.as_graph_def(), ranks)
    if not applied:
        return concrete, ()
    inputs, outputs = [t.name for t in frozen.inputs], [t.name for t in frozen.outputs]
    wrapped = tf.compat.v1.wrap_function(lambda: tf.compat.v1.import_graph_def(graph_def, name=""), [])
    pruned = wrapped.prune([wrapped.graph.get_tensor_by_name(n) for n in inputs],
                           [wrapped.graph.get_tensor_by_name(n) for n in outputs])
    if len(inputs) == 1 and len(outputs) == 1:
        spec = frozen.inputs[0]
        function = tf.function(lambda inputs: pruned(inputs)[0])
        return function.get_concrete_function(tf.TensorSpec(spec.shape, spec.dtype, name="inputs")), applied
    # several inputs or outputs: the names model_loader gave them, which keep specs.json's order
    # through the converter; a dict's outputs flatten in its sorted keys' order, as frozen.outputs are
    keys = sorted(concrete.structured_outputs)
    specs = [tf.TensorSpec(t.shape, t.dtype, name=signature_name("input", i)) for i, t in enumerate(frozen.inputs)]
    several = tf.function(lambda *args: dict(zip(keys, pruned(*args))))
    return several.get_concrete_function(*specs), applied
