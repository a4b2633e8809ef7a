"""zero_constant_scale: a quantized constant whose every value is its zero point (a constant 0,
such as the offset of tf_keras' LayerNormalization, whose fused batch norm subtracts from zeros)
is given the scale 0 by the converter. Its value is 0 at any scale, but kernels divide by input
scales: LiteRT's int16 SUB aborts the whole process on it (no exception, no message). The scale
becomes the one of the output it feeds, which changes no value: exact by arithmetic, so it runs
before anything executes the model (the converter's model cannot be run to compare with)."""
from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from helpers.rewrite.edit import consumers

NAME = "zero_constant_scale"
_INTEGER = {schema.TensorType.INT8: np.int8, schema.TensorType.INT16: np.int16}


def _all_zero_point(model: schema.ModelT, tensor: schema.TensorT) -> bool:
    data = model.buffers[tensor.buffer].data if 0 < tensor.buffer < len(model.buffers) else None
    if tensor.type not in _INTEGER or data is None or len(data) == 0:
        return False
    values = np.frombuffer(bytes(bytearray(data)), dtype=_INTEGER[tensor.type])
    zero_points = np.asarray(tensor.quantization.zeroPoint if tensor.quantization.zeroPoint is not None else [0])
    return len(zero_points) == 1 and bool(np.all(values == zero_points[0]))


def fix_zero_scales(model: schema.ModelT) -> int:
    """Give every all-zero-point constant with a zero scale its reader's output scale; how many."""
    count = 0
    for graph in model.subgraphs:
        readers = consumers(graph)
        for index, tensor in enumerate(graph.tensors):
            quant = tensor.quantization
            if quant is None or quant.scale is None or len(quant.scale) != 1 or float(quant.scale[0]) != 0.0:
                continue
            if not _all_zero_point(model, tensor) or not readers.get(index):
                continue
            output = graph.tensors[graph.operators[readers[index][0]].outputs[0]].quantization
            scale = float(output.scale[0]) if output is not None and output.scale is not None and \
                len(output.scale) and float(output.scale[0]) > 0 else 1.0
            quant.scale = [scale]
            count += 1
    return count
