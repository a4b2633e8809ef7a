"""Editing a .tflite through the schema's object API (ModelT): who produces and consumes a tensor,
replacing a run of operators by one, dropping what nothing refers to any more, packing again.

Only what a pass orphaned is dropped (its operators' private tensors, their constant buffers, an
operator code no operator uses), so the rest of the file keeps its indices and bytes."""
from __future__ import annotations

import copy
import os
import tempfile

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from helpers.core.flatbuffer import op_name


def consumers(graph: schema.SubGraphT) -> dict[int, list[int]]:
    """Tensor index -> indices of the operators that read it."""
    found: dict[int, list[int]] = {}
    for position, op in enumerate(graph.operators or []):
        for tensor in op.inputs if op.inputs is not None else []:
            if tensor >= 0:
                found.setdefault(int(tensor), []).append(position)
    return found


def name_of(model: schema.ModelT, op: schema.OperatorT) -> str:
    return op_name(model.operatorCodes[op.opcodeIndex])


def constant(model: schema.ModelT, graph: schema.SubGraphT, index: int) -> np.ndarray | None:
    """A constant integer tensor's values (int32 or int64), or None for anything else."""
    tensor = graph.tensors[index]
    dtype = {schema.TensorType.INT32: np.int32, schema.TensorType.INT64: np.int64}.get(tensor.type)
    data = model.buffers[tensor.buffer].data if 0 < tensor.buffer < len(model.buffers) else None
    if dtype is None or data is None or len(data) == 0:
        return None
    return np.frombuffer(bytes(bytearray(data)), dtype=dtype).astype(np.int64)


def same_quantization(a: schema.TensorT, b: schema.TensorT) -> bool:
    """Same type and the same scales and zero points: a copy between them changes no value."""
    def params(tensor: schema.TensorT) -> tuple:
        q = tensor.quantization
        if q is None or q.scale is None:
            return ()
        return (tuple(np.asarray(q.scale).tolist()), tuple(np.asarray(q.zeroPoint).tolist()))
    return a.type == b.type and params(a) == params(b)


def opcode_index(model: schema.ModelT, builtin: int, version: int) -> int:
    """The index of the builtin's operator code, added when the model has none (at `version`)."""
    for index, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin and not code.customCode:
            code.version = max(code.version, version)
            return index
    code = schema.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, min(builtin, 127), version
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def add_int32_constant(model: schema.ModelT, graph: schema.SubGraphT, name: str,
                       values: list[int] | np.ndarray) -> int:
    """A new int32 constant tensor of `values`' shape (with its own buffer); its index."""
    return add_constant(model, graph, name, np.asarray(values, dtype="<i4"), schema.TensorType.INT32)


def add_constant(model: schema.ModelT, graph: schema.SubGraphT, name: str, array: np.ndarray,
                 tensor_type: int) -> int:
    """A new constant tensor holding `array` (already in the type's little-endian dtype), with its
    own buffer and no quantization; its index."""
    buffer = schema.BufferT()
    buffer.data = np.ascontiguousarray(array).tobytes()
    model.buffers.append(buffer)
    tensor = schema.TensorT()
    tensor.shape, tensor.type, tensor.name = list(array.shape), tensor_type, name.encode()
    tensor.buffer = len(model.buffers) - 1
    graph.tensors.append(tensor)
    return len(graph.tensors) - 1


def tensor_like(graph: schema.SubGraphT, template: int, shape: tuple[int, ...], suffix: str) -> int:
    """A new activation tensor of `shape` with the type and quantization of `template`; its index."""
    original = graph.tensors[template]
    tensor = schema.TensorT()
    tensor.shape, tensor.type, tensor.buffer = [int(d) for d in shape], original.type, 0
    tensor.name = (original.name or b"") + suffix.encode()
    tensor.quantization = copy.deepcopy(original.quantization)
    graph.tensors.append(tensor)
    return len(graph.tensors) - 1


def new_operator(model: schema.ModelT, builtin: int, version: int, inputs: list[int], output: int,
                 options: object = None, options_type: int = 0) -> schema.OperatorT:
    op = schema.OperatorT()
    op.opcodeIndex = opcode_index(model, builtin, version)
    op.inputs, op.outputs = list(inputs), [output]
    op.builtinOptionsType, op.builtinOptions = options_type, options
    return op


def reshape(model: schema.ModelT, graph: schema.SubGraphT, source: int, target: int) -> schema.OperatorT:
    """A RESHAPE from `source` to the shape of `target`, its new shape as a constant input (as the
    converter writes it)."""
    shape = add_int32_constant(model, graph, f"{_name(graph.tensors[target])}/shape",
                               [int(d) for d in graph.tensors[target].shape])
    return new_operator(model, schema.BuiltinOperator.RESHAPE, 1, [source, shape], target)


def _name(tensor: schema.TensorT) -> str:
    return tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name or "")


def drop_orphans(model: schema.ModelT, graph: schema.SubGraphT, candidates: set[int]) -> None:
    """Remove the candidate tensors nothing refers to any more, their buffers when no other tensor
    or metadata uses them, and operator codes no operator uses; every index is renumbered."""
    used = {int(i) for op in graph.operators for field in (op.inputs, op.outputs, op.intermediates)
            if field is not None for i in field if i >= 0}
    used |= {int(i) for i in list(graph.inputs) + list(graph.outputs)}
    dropped = sorted(i for i in candidates if i not in used and not graph.tensors[i].isVariable)
    freed = {graph.tensors[i].buffer for i in dropped} - {0}
    if dropped:
        _renumber_tensors(model, graph, set(dropped))
    _drop_unused_buffers(model, freed)
    _drop_unused_opcodes(model)


def _renumber_tensors(model: schema.ModelT, graph: schema.SubGraphT, dropped: set[int]) -> None:
    new_index, kept = {}, []
    for old, tensor in enumerate(graph.tensors):
        if old not in dropped:
            new_index[old] = len(kept)
            kept.append(tensor)
    graph.tensors = kept

    def remap(values):  # type: ignore[no-untyped-def]
        return None if values is None else [new_index[int(i)] if i >= 0 else int(i) for i in values]

    for op in graph.operators:
        op.inputs, op.outputs, op.intermediates = remap(op.inputs), remap(op.outputs), remap(op.intermediates)
    graph.inputs, graph.outputs = remap(graph.inputs), remap(graph.outputs)
    position = model.subgraphs.index(graph)
    for signature in model.signatureDefs or []:
        if signature.subgraphIndex == position:
            for entry in list(signature.inputs or []) + list(signature.outputs or []):
                entry.tensorIndex = new_index[int(entry.tensorIndex)]


def _drop_unused_buffers(model: schema.ModelT, freed: set[int]) -> None:
    """The freed buffers no tensor or metadata still refers to."""
    still = {m.buffer for m in model.metadata or []} | {t.buffer for g in model.subgraphs for t in g.tensors}
    gone = freed - still
    if not gone:
        return
    used = set(range(len(model.buffers))) - gone
    new_index = {old: new for new, old in enumerate(i for i in range(len(model.buffers)) if i in used)}
    model.buffers = [buffer for i, buffer in enumerate(model.buffers) if i in used]
    for graph in model.subgraphs:
        for tensor in graph.tensors:
            tensor.buffer = new_index[tensor.buffer]
    for entry in model.metadata or []:
        entry.buffer = new_index[entry.buffer]


def _drop_unused_opcodes(model: schema.ModelT) -> None:
    used = sorted({op.opcodeIndex for graph in model.subgraphs for op in graph.operators or []})
    if len(used) == len(model.operatorCodes):
        return
    new_index = {old: new for new, old in enumerate(used)}
    model.operatorCodes = [model.operatorCodes[i] for i in used]
    for graph in model.subgraphs:
        for op in graph.operators or []:
            op.opcodeIndex = new_index[op.opcodeIndex]


def pack(model: schema.ModelT) -> bytes:
    """The model as .tflite bytes, buffers aligned as the converter aligns them (the Python builder
    ignores the schema's force_align, so TFLM's own align tool re-packs it)."""
    from tflite_micro.tensorflow.lite.micro.tools import tflite_flatbuffer_align_wrapper

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    with tempfile.TemporaryDirectory(prefix="mcu-deploy-rewrite-") as tmp:
        source, target = os.path.join(tmp, "in.tflite"), os.path.join(tmp, "out.tflite")
        with open(source, "wb") as handle:
            handle.write(bytes(builder.Output()))
        tflite_flatbuffer_align_wrapper.align_tflite_model(source, target)
        with open(target, "rb") as handle:
            return handle.read()
