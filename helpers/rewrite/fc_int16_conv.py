"""int16_per_channel_fc_as_conv: under `-q int16x8` the converter writes FULLY_CONNECTED with int16
activations and int8 weights quantized per output channel. TFLM's reference kernel runs it, but
its CMSIS-NN kernel, the one every Cortex-M build links, refuses per-channel quantization for
anything but int8 input in Prepare (kernels/cmsis_nn/fully_connected.cc: `!is_per_channel ||
input->type == kTfLiteInt8`), so no Dense layer of an int16x8 model ran on a Cortex-M target.
TFLM's CMSIS-NN CONV_2D takes int16 per-channel (arm_convolve_wrapper_s16), and a 1x1 convolution
over the rows of the FC's input is the FC: each output is the same sum of the same products, the
same int64 bias, requantized with the same per-channel multipliers.

    x [..., K] -> FULLY_CONNECTED(W [N, K], b) -> y
    x -> RESHAPE [1, 1, rows, K] -> CONV_2D 1x1 (W as [N, 1, 1, K], b) -> [1, 1, rows, N] -> RESHAPE -> y

The filter is a new tensor that views the weights' buffer (no copy: the weights' bytes are already
in OHWI order with H = W = 1), with the same per-channel scales on dimension 0. An FC without a
bias gets an int64 zero bias (TFLM's int16 convolution accumulates in int64 only with one). y keeps
its tensor, so what reads it is unchanged. The pass list's proof runs TFLM's reference kernels on
both models over the evaluation rows: TFLM has a kernel for the FC, so TFLM is what must agree."""
from __future__ import annotations

import copy

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from helpers.rewrite.edit import add_constant, drop_orphans, name_of, new_operator, reshape, tensor_like

NAME = "int16_per_channel_fc_as_conv"
# CONV_2D's version for int16 activations and int8 weights (the converter's op_version.cc).
_CONV_VERSION = 4


def candidates(model: schema.ModelT) -> list[tuple[schema.SubGraphT, int]]:
    """(graph, operator position) of every int16 FULLY_CONNECTED with per-channel weights the pass
    can rewrite."""
    return [(graph, position) for graph in model.subgraphs for position, op in enumerate(graph.operators or [])
            if name_of(model, op) == "FULLY_CONNECTED" and _rewritable(model, graph, op)]


def _rewritable(model: schema.ModelT, graph: schema.SubGraphT, op: schema.OperatorT) -> bool:
    inputs = [int(i) for i in op.inputs]
    if len(inputs) < 2 or min(inputs[:2]) < 0 or len(op.outputs) != 1:
        return False
    x, w, y = graph.tensors[inputs[0]], graph.tensors[inputs[1]], graph.tensors[int(op.outputs[0])]
    if not (x.type == y.type == schema.TensorType.INT16 and w.type == schema.TensorType.INT8):
        return False
    if x.shape is None or y.shape is None or not len(x.shape) or not len(y.shape):
        return False  # a shape known only at run time
    quant = w.quantization
    if quant is None or quant.scale is None or len(quant.scale) < 2 or quant.quantizedDimension != 0:
        return False  # per-tensor weights: CMSIS-NN's int16 FC runs them
    options = op.builtinOptions
    if options is not None and options.weightsFormat != schema.FullyConnectedOptionsWeightsFormat.DEFAULT:
        return False
    if w.sparsity is not None or w.shape is None or len(w.shape) != 2 or not _has_data(model, w):
        return False  # sparse weights, or weights computed at run time: not a filter
    n_out, depth = (int(d) for d in w.shape)
    size_in, size_out = int(np.prod(x.shape)), int(np.prod(y.shape))
    if len(quant.scale) != n_out or depth == 0 or size_in % depth or size_out != size_in // depth * n_out:
        return False
    if len(inputs) > 2 and inputs[2] >= 0:
        bias = graph.tensors[inputs[2]]  # int64, the only bias the engines take with int16 input
        return bias.type == schema.TensorType.INT64 and _has_data(model, bias)
    return True


def _has_data(model: schema.ModelT, tensor: schema.TensorT) -> bool:
    return 0 < tensor.buffer < len(model.buffers) and model.buffers[tensor.buffer].data is not None \
        and len(model.buffers[tensor.buffer].data) > 0


def rewrite_int16_fcs(model: schema.ModelT) -> int:
    """Replace every candidate by RESHAPE, a 1x1 CONV_2D and RESHAPE; how many. Edits `model` in
    place, from the last op back so that the earlier positions stay valid."""
    found = candidates(model)
    for graph, position in reversed(found):
        op = graph.operators[position]
        weights = int(op.inputs[1])
        graph.operators[position:position + 1] = _as_conv(model, graph, op, f"fc16_{position}")
        drop_orphans(model, graph, {weights})  # the [N, K] view; its buffer stays, the filter reads it
    return len(found)


def _as_conv(model: schema.ModelT, graph: schema.SubGraphT, op: schema.OperatorT,
             stem: str) -> list[schema.OperatorT]:
    """The three operators replacing `op`. New tensors are named `stem/...`: a suffix to the
    converter's names (often several layers' names joined by ';') would make long names longer."""
    x, w, y = int(op.inputs[0]), int(op.inputs[1]), int(op.outputs[0])
    n_out, depth = (int(d) for d in graph.tensors[w].shape)
    rows = int(np.prod(graph.tensors[x].shape)) // depth
    rows_in = _named(graph, tensor_like(graph, x, (1, 1, rows, depth), ""), f"{stem}/x")
    rows_out = _named(graph, tensor_like(graph, y, (1, 1, rows, n_out), ""), f"{stem}/y")
    bias = int(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 else _zero_bias(model, graph, x, w, stem)
    conv_options = schema.Conv2DOptionsT()
    conv_options.padding, conv_options.strideW, conv_options.strideH = schema.Padding.VALID, 1, 1
    if op.builtinOptions is not None:
        conv_options.fusedActivationFunction = op.builtinOptions.fusedActivationFunction
    conv = new_operator(model, schema.BuiltinOperator.CONV_2D, _CONV_VERSION, [rows_in, _filter(graph, w, stem), bias],
                        rows_out, conv_options, schema.BuiltinOptions.Conv2DOptions)
    back = reshape(model, graph, rows_out, y)
    _named(graph, int(back.inputs[1]), f"{stem}/y_shape")  # reshape() names it after y, the converter's name
    return [reshape(model, graph, x, rows_in), conv, back]


def _named(graph: schema.SubGraphT, index: int, name: str) -> int:
    graph.tensors[index].name = name.encode()
    return index


def _filter(graph: schema.SubGraphT, weights: int, stem: str) -> int:
    """[N, 1, 1, K] over the weights' own buffer, with their per-channel quantization."""
    original = graph.tensors[weights]
    tensor = schema.TensorT()
    n_out, depth = (int(d) for d in original.shape)
    tensor.shape, tensor.type, tensor.buffer = [n_out, 1, 1, depth], original.type, original.buffer
    tensor.name = f"{stem}/w".encode()
    tensor.quantization = copy.deepcopy(original.quantization)
    tensor.quantization.quantizedDimension = 0
    graph.tensors.append(tensor)
    return len(graph.tensors) - 1


def _zero_bias(model: schema.ModelT, graph: schema.SubGraphT, x: int, weights: int, stem: str) -> int:
    """An int64 zero bias [N], quantized as the converter quantizes biases (input scale times each
    channel's weight scale: LiteRT checks a bias's scales against those)."""
    scales = np.asarray(graph.tensors[weights].quantization.scale, dtype=np.float64)
    index = add_constant(model, graph, f"{stem}/b", np.zeros(len(scales), dtype="<i8"), schema.TensorType.INT64)
    quant = schema.QuantizationParametersT()
    quant.scale = (float(graph.tensors[x].quantization.scale[0]) * scales).astype(np.float32).tolist()
    quant.zeroPoint, quant.quantizedDimension = [0] * len(scales), 0
    graph.tensors[index].quantization = quant
    return index
