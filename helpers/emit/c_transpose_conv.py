"""The C engine's int8 TRANSPOSE_CONV: CMSIS-NN's arm_transpose_conv_wrapper_s8 with the parameters
TFLM's Cortex-M kernel passes (kernels/cmsis_nn/transpose_conv.cc), on every core.

The wrapper takes two scratch buffers: an accumulator (or im2col) buffer, and one for the kernel it
reverses when it runs the layer as a convolution over the upscaled input. The engine lends it the
grid buffer the portable paths spread the input over (the lowering's `grid`, idle in the C engine)
when both fit in it, else the engine's shared scratch; the self-test asks CMSIS-NN for both sizes
on the board and fails when the engine reserved less."""
from __future__ import annotations

from helpers.emit.c_names import CNames, c_int
from helpers.lowering import steps as s

# CMSIS-NN's REVERSE_TCOL_EFFICIENT_THRESHOLD (arm_nnsupportfunctions.h): more input channels than
# this, and strides of at most 2, make the wrapper run the layer as a convolution.
REVERSE_THRESHOLD = 16


def _reverse_conv(g: s.ConvGeometry) -> bool:
    return g.stride_w <= 2 and g.stride_h <= 2 and g.in_c > REVERSE_THRESHOLD


def scratch_sizes(g: s.ConvGeometry) -> tuple[int, int]:
    """(accumulator buffer, reversed kernel buffer) in bytes: arm_transpose_conv_s8_get_buffer_size,
    the larger of its DSP and MVE forms (one engine file serves every core), and
    arm_transpose_conv_s8_get_reverse_conv_buffer_size."""
    if _reverse_conv(g):
        columns = g.k_w * g.k_h * g.in_c
        im2col = max(2 * (columns + (-columns) % 4) * 2, 4 * ((columns + 15) // 16) * 16)
        return im2col, g.in_c * g.k_w * g.k_h * g.out_c
    # CMSIS-NN's own formula, stride.h in the width term included
    row = ((g.in_w - 1) * g.stride_w + max(g.k_w, g.stride_h)) * g.out_c
    return row * max(g.k_h, g.stride_h) * 4, 0


def _align4(size: int) -> int:
    return -(-size // 4) * 4


def transpose_conv_i8(n: CNames, t: s.TransposeConvInt8) -> str:
    g, q, p = t.geometry, t.quant, t.padding
    n.uses_cmsis = True
    params = n.record("cmsis_nn_transpose_conv_params", [
        c_int(q.input_offset), c_int(q.output_zero_point), f"{{{g.stride_w}, {g.stride_h}}}",
        f"{{{p.pad_w}, {p.pad_h}}}", f"{{{p.offset_w}, {p.offset_h}}}", "{1, 1}",
        f"{{{c_int(q.act_min)}, {c_int(q.act_max)}}}"])
    quant = n.record("cmsis_nn_per_channel_quant_params",
                     [f"(int32_t *){n.array(q.multipliers)}", f"(int32_t *){n.array(q.shifts)}"])
    dims = [n.record("cmsis_nn_dims", [str(v) for v in shape]) for shape in
            ((1, g.in_h, g.in_w, g.in_c), (g.out_c, g.k_h, g.k_w, g.in_c), (1, 1, 1, g.out_c),
             (1, g.out_h, g.out_w, g.out_c))]
    accumulator, reversed_kernel = scratch_sizes(g)
    first = _align4(accumulator)
    # the buffers CMSIS-NN asks for on the board, the first rounded up to whole words as `first` is
    needed = (f"(((arm_transpose_conv_s8_get_buffer_size(&{params}, &{dims[0]}, &{dims[1]}, &{dims[3]}) + 3) & ~3) + "
              f"arm_transpose_conv_s8_get_reverse_conv_buffer_size(&{params}, &{dims[0]}, &{dims[1]}))")
    grid_bytes = n.program.buffer(t.grid).nbytes
    if first + reversed_kernel <= grid_bytes:
        # the grid is idle here: the query counts against the engine's scratch only what exceeds it
        n.scratch_queries.append(f"({needed} <= {grid_bytes} ? 0 : {needed})")
        base = f"((int8_t *){n.buffer(t.grid)})"
    else:
        n.need_scratch(first + reversed_kernel)
        n.scratch_queries.append(needed)
        base = "((int8_t *)mcu_scratch)"
    # CMSIS-NN refuses a NULL buffer, even one it would not use: both point into the space
    context = n.record("cmsis_nn_context", [base, str(accumulator)])
    reverse = n.record("cmsis_nn_context", [f"{base} + {first}", str(reversed_kernel)])
    x, y, w, bias = n.operand(t.x), n.buffer(t.y), n.array(t.weights), n.array(t.bias)
    return (f"if (arm_transpose_conv_wrapper_s8(&{context}, &{reverse}, &{params}, &{quant}, &{dims[0]}, {x}, "
            f"&{dims[1]}, {w}, &{dims[2]}, {bias}, &{dims[3]}, {y}) != ARM_CMSIS_NN_SUCCESS) return -1;")
