// mcu-deploy's kernels module: CMSIS-NN's int8 kernels as a MicroPython native module (.mpy with
// machine code, built with MicroPython's py/dynruntime.mk, one file per architecture:
// mcu_kernels_<arch>.mpy). It knows no model: the generated engine (<id>_infer.py) passes its
// weights (bytes, in flash when frozen or in ROMFS), its activation buffers (bytearrays made once at
// import) and one int32 parameter array per call, laid out as each function below documents (the
// exporter, helpers/emit/micropython_native.py, writes them in the same order). The kernels are the
// ones TFLM's Cortex-M build calls, with the parameters TFLM's kernels/cmsis_nn/*.cc give them, so
// the outputs are TFLM's. Nothing here allocates: every function returns None.
#include "py/dynruntime.h"

#include "arm_nnfunctions.h"

// The bytes of a buffer argument, after checking it holds at least `need` bytes.
static void *buffer_of(mp_obj_t object, size_t need, int flags) {
    mp_buffer_info_t info;
    mp_get_buffer_raise(object, &info, flags);
    if (info.len < need) {
        mp_raise_ValueError(MP_ERROR_TEXT("buffer smaller than the kernel's operand"));
    }
    return info.buf;
}

// An int32 parameter array (array('i')) of exactly `count` values.
static const int32_t *params_of(mp_obj_t object, size_t count) {
    mp_buffer_info_t info;
    mp_get_buffer_raise(object, &info, MP_BUFFER_READ);
    if (info.len != count * sizeof(int32_t)) {
        mp_raise_ValueError(MP_ERROR_TEXT("wrong number of kernel parameters"));
    }
    return (const int32_t *)info.buf;
}

static void check(arm_cmsis_nn_status status) {
    if (status != ARM_CMSIS_NN_SUCCESS) {
        mp_raise_ValueError(MP_ERROR_TEXT("CMSIS-NN refused the arguments"));
    }
}

static const cmsis_nn_context no_scratch = {NULL, 0};

static cmsis_nn_context scratch_of(mp_obj_t object) {
    cmsis_nn_context context = {NULL, 0};
    if (object != mp_const_none) {
        mp_buffer_info_t info;
        mp_get_buffer_raise(object, &info, MP_BUFFER_RW);
        context.buf = info.len ? info.buf : NULL;
        context.size = (int32_t)info.len;
    }
    return context;
}

// The C engine's own int8 kernels for what CMSIS-NN has no kernel for (helpers/emit/c_kernels/,
// copied in by the build): broadcast ADD, SUB and MUL, SQUARED_DIFFERENCE and BATCH_MATMUL, with
// TFLM's reference arithmetic, so the outputs are the C engine's and TFLM's.
#include <math.h>
#include "fixedpoint.c"
#include "ops_int8.c"

#if defined(ARM_MATH_DSP) && !defined(ARM_MATH_MVEI)
// The C engine's own Armv7E-M kernels (helpers/emit/c_kernels/conv_dsp.c, copied in by the build):
// the fully connected one runs fc() here, with the same outputs as CMSIS-NN's (docs/kernels.md).
#include "conv_dsp.c"
#define MCU_OWN_KERNELS 1
#else
#define MCU_OWN_KERNELS 0
#endif

// The bytes of scratch the own fully connected kernel needs for n_in inputs on this core: the row's
// inputs as int16 pairs, plus room to align them to 8 bytes (LDRD); none where it does not run.
static int32_t fc_scratch_bytes(int32_t n_in) {
    return MCU_OWN_KERNELS && n_in % 4 == 0 ? 2 * n_in + 8 : 0;
}

// fc(x, y, weights, bias, multipliers, shifts, p, sums, scratch)
// p: batches, n_in, n_out, input_offset, output_zero_point, act_min, act_max, per_channel, short
// sums: each channel's bias + input_offset * (its weight sum), int32 (the own kernel's start);
// short: the export proved the short requantization exact for the layer (c_own_conv.py).
static mp_obj_t fc(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    const int32_t *p = params_of(args[6], 9);
    const int32_t batches = p[0], n_in = p[1], n_out = p[2];
    const int8_t *x = buffer_of(args[0], batches * n_in, MP_BUFFER_READ);
    int8_t *y = buffer_of(args[1], batches * n_out, MP_BUFFER_RW);
    const int8_t *w = buffer_of(args[2], n_in * n_out, MP_BUFFER_READ);
    const int32_t *bias = buffer_of(args[3], 4 * n_out, MP_BUFFER_READ);
    int32_t *multipliers = buffer_of(args[4], 4 * (p[7] ? n_out : 1), MP_BUFFER_READ);
    int32_t *shifts = buffer_of(args[5], 4 * (p[7] ? n_out : 1), MP_BUFFER_READ);
#if MCU_OWN_KERNELS
    if (fc_scratch_bytes(n_in)) {
        const int32_t *sums = buffer_of(args[7], 4 * n_out, MP_BUFFER_READ);
        uint8_t *scratch = buffer_of(args[8], fc_scratch_bytes(n_in), MP_BUFFER_RW);
        uint32_t *wide = (uint32_t *)(((uintptr_t)scratch + 7) & ~(uintptr_t)7);
        mcu_fully_connected_s8(x, y, w, sums, multipliers, shifts, wide, batches, n_in, n_out, p[4], p[5], p[6], p[8],
                               p[7]);
        return mp_const_none;
    }
#endif
    const cmsis_nn_fc_params fc_params = {p[3], 0, p[4], {p[5], p[6]}};
    const cmsis_nn_dims input_dims = {batches, 1, 1, n_in};
    const cmsis_nn_dims filter_dims = {n_in, 1, 1, n_out};
    const cmsis_nn_dims bias_dims = {1, 1, 1, n_out};
    const cmsis_nn_dims output_dims = {batches, 1, 1, n_out};
    if (p[7]) {
        const cmsis_nn_per_channel_quant_params quant = {multipliers, shifts};
        check(arm_fully_connected_per_channel_s8(&no_scratch, &fc_params, &quant, &input_dims, x, &filter_dims, w,
                                                 &bias_dims, bias, &output_dims, y));
    } else {
        const cmsis_nn_per_tensor_quant_params quant = {multipliers[0], shifts[0]};
        check(arm_fully_connected_s8(&no_scratch, &fc_params, &quant, &input_dims, x, &filter_dims, w, &bias_dims,
                                     bias, &output_dims, y));
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(fc_obj, 9, 9, fc);

// The convolution parameter array (p) of conv() and depthwise():
// in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, stride_h, stride_w, pad_top, pad_left,
// dilation_h, dilation_w, input_offset, output_zero_point, act_min, act_max, depth_multiplier
#define CONV_PARAMS 19

typedef struct {
    cmsis_nn_dims input, filter, bias, output;
} conv_dims;

static conv_dims dims_of(const int32_t *p, int depthwise) {
    conv_dims d = {{1, p[0], p[1], p[2]}, {p[5], p[6], p[7], p[2]}, {1, 1, 1, p[5]}, {1, p[3], p[4], p[5]}};
    if (depthwise) {
        d.filter = (cmsis_nn_dims){1, p[6], p[7], p[5]};
    }
    return d;
}

static cmsis_nn_conv_params conv_params_of(const int32_t *p) {
    return (cmsis_nn_conv_params){p[14], p[15], {p[9], p[8]}, {p[11], p[10]}, {p[13], p[12]}, {p[16], p[17]}};
}

static cmsis_nn_dw_conv_params dw_params_of(const int32_t *p) {
    return (cmsis_nn_dw_conv_params){p[14], p[15], p[18], {p[9], p[8]}, {p[11], p[10]}, {p[13], p[12]},
                                     {p[16], p[17]}};
}

// The own kernels' kinds, for a layer the C engine runs with its own kernel on Armv7E-M
// (helpers/emit/c_own_conv.py decides which, at export).
#define OWN_POINTWISE 1
#define OWN_DEPTHWISE_3X3 2
#define OWN_IM2COL 3

// The scratch the own convolution of this kind needs on this core (none where it does not run): a
// pixel pair's inputs (pointwise) or two patches (im2col) as int16 (and, for im2col, a kernel row's
// int8 inputs), plus room to align them to 8 bytes (LDRD).
static int32_t own_conv_scratch_bytes(int32_t kind, int32_t in_c, int32_t columns) {
    if (!MCU_OWN_KERNELS) {
        return 0;
    }
    // im2col: and a kernel row of int8 for a window over the padding, at most `columns` bytes
    return kind == OWN_POINTWISE ? 4 * in_c + 8 : kind == OWN_IM2COL ? 5 * columns + 8 : 0;
}

#if MCU_OWN_KERNELS
// The layer on the own kernel. own: (weights as the kernel reads them, each channel's folded sums
// (the depthwise kernel: the bias), [kind, short, columns]).
static void own_convolution(mp_obj_t own, const int32_t *p, const int8_t *x, int8_t *y,
                            const cmsis_nn_per_channel_quant_params *quant, mp_obj_t scratch_obj) {
    size_t count;
    mp_obj_t *items;
    mp_obj_get_array(own, &count, &items);
    if (count != 3) {
        mp_raise_ValueError(MP_ERROR_TEXT("wrong own kernel arguments"));
    }
    const int32_t *own_p = params_of(items[2], 3);
    const int32_t kind = own_p[0], right = own_p[1], columns = own_p[2];
    const uint32_t *weights = buffer_of(items[0], 4, MP_BUFFER_READ);
    const int32_t *sums = buffer_of(items[1], 4 * p[5], MP_BUFFER_READ);
    uint8_t *scratch = buffer_of(scratch_obj, own_conv_scratch_bytes(kind, p[2], columns), MP_BUFFER_RW);
    uint32_t *wide = (uint32_t *)(((uintptr_t)scratch + 7) & ~(uintptr_t)7);
    if (kind == OWN_POINTWISE) {
        mcu_pointwise_s8(x, y, weights, sums, quant->multiplier, quant->shift, wide, p[3] * p[4], p[2], p[5], p[15],
                         p[16], p[17], right);
    } else if (kind == OWN_DEPTHWISE_3X3) {
        mcu_depthwise_3x3_s8(x, y, weights, sums, quant->multiplier, quant->shift, p[0], p[1], p[2], p[3], p[4],
                             p[8], p[10], p[11], p[14], p[15], p[16], p[17], right);
    } else {
        mcu_conv_s8(x, y, weights, sums, quant->multiplier, quant->shift, wide, p[0], p[1], p[2], p[3], p[4], p[5],
                    p[6], p[7], p[8], p[9], p[10], p[11], p[14], columns, p[15], p[16], p[17], right);
    }
}
#endif

// conv(x, y, weights, bias, multipliers, shifts, p, scratch, own) and depthwise(...): the wrappers
// TFLM's CONV_2D and DEPTHWISE_CONV_2D call, which pick the kernel for the shapes and the core; on
// Armv7E-M the C engine's own kernel where the export chose one for the layer (own is not None).
static mp_obj_t convolution(const mp_obj_t *args, int depthwise) {
    const int32_t *p = params_of(args[6], CONV_PARAMS);
    const conv_dims d = dims_of(p, depthwise);
    const int8_t *x = buffer_of(args[0], p[0] * p[1] * p[2], MP_BUFFER_READ);
    int8_t *y = buffer_of(args[1], p[3] * p[4] * p[5], MP_BUFFER_RW);
    const int8_t *w = buffer_of(args[2], (depthwise ? 1 : p[2]) * p[5] * p[6] * p[7], MP_BUFFER_READ);
    const int32_t *bias = buffer_of(args[3], 4 * p[5], MP_BUFFER_READ);
    const cmsis_nn_per_channel_quant_params quant = {buffer_of(args[4], 4 * p[5], MP_BUFFER_READ),
                                                     buffer_of(args[5], 4 * p[5], MP_BUFFER_READ)};
#if MCU_OWN_KERNELS
    if (args[8] != mp_const_none) {
        own_convolution(args[8], p, x, y, &quant, args[7]);
        return mp_const_none;
    }
#endif
    const cmsis_nn_context scratch = scratch_of(args[7]);
    if (depthwise) {
        const cmsis_nn_dw_conv_params params = dw_params_of(p);
        check(arm_depthwise_conv_wrapper_s8(&scratch, &params, &quant, &d.input, x, &d.filter, w, &d.bias, bias,
                                            &d.output, y));
    } else {
        const cmsis_nn_conv_params params = conv_params_of(p);
        check(arm_convolve_wrapper_s8(&scratch, &params, &quant, &d.input, x, &d.filter, w, &d.bias, bias, &d.output,
                                      y));
    }
    return mp_const_none;
}

static mp_obj_t conv(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return convolution(args, 0);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(conv_obj, 9, 9, conv);

static mp_obj_t depthwise(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return convolution(args, 1);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(depthwise_obj, 9, 9, depthwise);

// The transpose convolution parameter array (p) of transpose_conv():
// in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, stride_h, stride_w, pad_h, pad_w, offset_h,
// offset_w, input_offset, output_zero_point, act_min, act_max
#define TRANSPOSE_CONV_PARAMS 18

static cmsis_nn_transpose_conv_params transpose_params_of(const int32_t *p) {
    return (cmsis_nn_transpose_conv_params){p[14], p[15], {p[9], p[8]}, {p[11], p[10]}, {p[13], p[12]}, {1, 1},
                                            {p[16], p[17]}};
}

// The wrapper's two buffers in one scratch: the accumulator's, rounded up to whole words (returned
// in *first), then the reversed kernel's. Returns their total.
static int32_t transpose_scratch_bytes(const cmsis_nn_transpose_conv_params *params, const conv_dims *d,
                                       int32_t *first) {
    *first = (arm_transpose_conv_s8_get_buffer_size(params, &d->input, &d->filter, &d->output) + 3) & ~3;
    return *first + arm_transpose_conv_s8_get_reverse_conv_buffer_size(params, &d->input, &d->filter);
}

// transpose_conv(x, y, weights, bias, multipliers, shifts, p, scratch): the wrapper TFLM's
// TRANSPOSE_CONV calls on Cortex-M, its two buffers one after the other in scratch.
static mp_obj_t transpose_conv(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    const int32_t *p = params_of(args[6], TRANSPOSE_CONV_PARAMS);
    const conv_dims d = dims_of(p, 0);  // the first eight parameters are laid out as conv()'s
    const int8_t *x = buffer_of(args[0], p[0] * p[1] * p[2], MP_BUFFER_READ);
    int8_t *y = buffer_of(args[1], p[3] * p[4] * p[5], MP_BUFFER_RW);
    const int8_t *w = buffer_of(args[2], p[2] * p[5] * p[6] * p[7], MP_BUFFER_READ);
    const int32_t *bias = buffer_of(args[3], 4 * p[5], MP_BUFFER_READ);
    const cmsis_nn_per_channel_quant_params quant = {buffer_of(args[4], 4 * p[5], MP_BUFFER_READ),
                                                     buffer_of(args[5], 4 * p[5], MP_BUFFER_READ)};
    const cmsis_nn_transpose_conv_params params = transpose_params_of(p);
    int32_t first;
    const int32_t total = transpose_scratch_bytes(&params, &d, &first);
    int8_t *scratch = buffer_of(args[7], total, MP_BUFFER_RW);
    const cmsis_nn_context context = {scratch, first};
    const cmsis_nn_context reverse = {scratch + first, total - first};
    check(arm_transpose_conv_wrapper_s8(&context, &reverse, &params, &quant, &d.input, x, &d.filter, w, &d.bias,
                                        bias, &d.output, y));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(transpose_conv_obj, 8, 8, transpose_conv);

// pool(x, y, p, scratch)
// p: in_h, in_w, channels, out_h, out_w, k_h, k_w, stride_h, stride_w, pad_top, pad_left, act_min,
// act_max, average (0: max pooling)
static mp_obj_t pool(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    const int32_t *p = params_of(args[2], 14);
    const int8_t *x = buffer_of(args[0], p[0] * p[1] * p[2], MP_BUFFER_READ);
    int8_t *y = buffer_of(args[1], p[3] * p[4] * p[2], MP_BUFFER_RW);
    const cmsis_nn_pool_params params = {{p[8], p[7]}, {p[10], p[9]}, {p[11], p[12]}};
    const cmsis_nn_dims input_dims = {1, p[0], p[1], p[2]};
    const cmsis_nn_dims filter_dims = {1, p[5], p[6], 1};
    const cmsis_nn_dims output_dims = {1, p[3], p[4], p[2]};
    if (p[13]) {
        const cmsis_nn_context scratch = scratch_of(args[3]);
        check(arm_avgpool_s8(&scratch, &params, &input_dims, x, &filter_dims, &output_dims, y));
    } else {
        check(arm_max_pool_s8(&no_scratch, &params, &input_dims, x, &filter_dims, &output_dims, y));
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(pool_obj, 4, 4, pool);

// softmax(x, y, p); p: rows, depth, input_multiplier, input_left_shift, diff_min
static mp_obj_t softmax(mp_obj_t x_obj, mp_obj_t y_obj, mp_obj_t p_obj) {
    const int32_t *p = params_of(p_obj, 5);
    const int8_t *x = buffer_of(x_obj, p[0] * p[1], MP_BUFFER_READ);
    int8_t *y = buffer_of(y_obj, p[0] * p[1], MP_BUFFER_RW);
    arm_softmax_s8(x, p[0], p[1], p[2], p[3], p[4], y);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(softmax_obj, softmax);

// add(x1, x2, y, p), element by element (no broadcasting)
// p: count, offset1, multiplier1, shift1, offset2, multiplier2, shift2, left_shift, output_zero_point,
// output_multiplier, output_shift, act_min, act_max
static mp_obj_t add(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    const int32_t *p = params_of(args[3], 13);
    const int8_t *x1 = buffer_of(args[0], p[0], MP_BUFFER_READ);
    const int8_t *x2 = buffer_of(args[1], p[0], MP_BUFFER_READ);
    int8_t *y = buffer_of(args[2], p[0], MP_BUFFER_RW);
    check(arm_elementwise_add_s8(x1, x2, p[1], p[2], p[3], p[4], p[5], p[6], p[7], y, p[8], p[9], p[10], p[11],
                                 p[12], p[0]));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(add_obj, 4, 4, add);

// mul(x1, x2, y, p), element by element (no broadcasting)
// p: count, offset1, offset2, output_zero_point, output_multiplier, output_shift, act_min, act_max
static mp_obj_t mul(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    const int32_t *p = params_of(args[3], 8);
    const int8_t *x1 = buffer_of(args[0], p[0], MP_BUFFER_READ);
    const int8_t *x2 = buffer_of(args[1], p[0], MP_BUFFER_READ);
    int8_t *y = buffer_of(args[2], p[0], MP_BUFFER_RW);
    check(arm_elementwise_mul_s8(x1, x2, p[1], p[2], y, p[3], p[4], p[5], p[6], p[7], p[0]));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mul_obj, 4, 4, mul);

// lstm(x, y, p, gates, temp1, temp2, cell): arm_lstm_unidirectional_s8, batch 1, time major, every
// call from zero state (as TFLM's CMSIS-NN kernel, which passes no hidden state).
// p: steps, n_in, n_state, input_offset, forget_to_cell multiplier and shift, input_to_cell
// multiplier and shift, cell_clip, cell_scale_power, output multiplier, shift and offset, then per
// gate (forget, input, cell, output): input multiplier, input shift, hidden multiplier, hidden
// shift, 1 for sigmoid (0: tanh).
// gates: per gate, in that order, (input weights, input effective bias, hidden weights, hidden
// effective bias, bias): a tuple of 20 buffers.
#define LSTM_PARAMS (13 + 4 * 5)

static cmsis_nn_lstm_gate gate_of(const int32_t *q, const mp_obj_t *buffers, int32_t n_in, int32_t n_state) {
    cmsis_nn_lstm_gate gate;
    gate.input_multiplier = q[0];
    gate.input_shift = q[1];
    gate.input_weights = buffer_of(buffers[0], n_in * n_state, MP_BUFFER_READ);
    gate.input_effective_bias = buffer_of(buffers[1], 4 * n_state, MP_BUFFER_READ);
    gate.hidden_multiplier = q[2];
    gate.hidden_shift = q[3];
    gate.hidden_weights = buffer_of(buffers[2], n_state * n_state, MP_BUFFER_READ);
    gate.hidden_effective_bias = buffer_of(buffers[3], 4 * n_state, MP_BUFFER_READ);
    gate.bias = buffer_of(buffers[4], 4 * n_state, MP_BUFFER_READ);
    gate.activation_type = q[4] ? ARM_SIGMOID : ARM_TANH;
    return gate;
}

static mp_obj_t lstm(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    const int32_t *p = params_of(args[2], LSTM_PARAMS);
    const int32_t steps = p[0], n_in = p[1], n_state = p[2];
    size_t n_buffers;
    mp_obj_t *buffers;
    mp_obj_get_array(args[3], &n_buffers, &buffers);
    if (n_buffers != 20) {
        mp_raise_ValueError(MP_ERROR_TEXT("lstm takes 20 gate buffers"));
    }
    cmsis_nn_lstm_params params;
    params.time_major = 1;
    params.batch_size = 1;
    params.time_steps = steps;
    params.input_size = n_in;
    params.hidden_size = n_state;
    params.input_offset = p[3];
    params.forget_to_cell_multiplier = p[4];
    params.forget_to_cell_shift = p[5];
    params.input_to_cell_multiplier = p[6];
    params.input_to_cell_shift = p[7];
    params.cell_clip = p[8];
    params.cell_scale_power = p[9];
    params.output_multiplier = p[10];
    params.output_shift = p[11];
    params.output_offset = p[12];
    params.forget_gate = gate_of(p + 13, buffers, n_in, n_state);
    params.input_gate = gate_of(p + 18, buffers + 5, n_in, n_state);
    params.cell_gate = gate_of(p + 23, buffers + 10, n_in, n_state);
    params.output_gate = gate_of(p + 28, buffers + 15, n_in, n_state);
    cmsis_nn_lstm_context context;
    context.temp1 = buffer_of(args[4], 2 * n_state, MP_BUFFER_RW);
    context.temp2 = buffer_of(args[5], 2 * n_state, MP_BUFFER_RW);
    context.cell_state = buffer_of(args[6], 2 * n_state, MP_BUFFER_RW);
    context.hidden_state = NULL;
    const int8_t *x = buffer_of(args[0], steps * n_in, MP_BUFFER_READ);
    int8_t *y = buffer_of(args[1], steps * n_state, MP_BUFFER_RW);
    check(arm_lstm_unidirectional_s8(x, y, &params, &context));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(lstm_obj, 7, 7, lstm);

// An index map argument of the elementwise kernels: None (element k) or an int32 array of n entries.
static const int32_t *index_of(mp_obj_t object, int32_t n) {
    return object == mp_const_none ? NULL : buffer_of(object, 4 * n, MP_BUFFER_READ);
}

// binary(x1, i1, x2, i2, y, p): the engine's own broadcasting int8 kernels, through index maps (None:
// element k). p[0] the kind (0: add or sub, 1: mul, 2: squared difference), p[1] the count, then the
// kernel's parameter record in its field order (ops_int8.c: mcu_add_params, mcu_mul_params,
// mcu_squared_difference_params).
static mp_obj_t binary(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    mp_buffer_info_t info;
    mp_get_buffer_raise(args[5], &info, MP_BUFFER_READ);
    const int32_t *p = (const int32_t *)info.buf;
    const size_t sizes[3] = {sizeof(mcu_add_params), sizeof(mcu_mul_params), sizeof(mcu_squared_difference_params)};
    if (info.len < 8 || p[0] < 0 || p[0] > 2 || info.len != 8 + sizes[p[0]]) {
        mp_raise_ValueError(MP_ERROR_TEXT("wrong number of kernel parameters"));
    }
    const int32_t n = p[1];
    const int32_t *i1 = index_of(args[1], n), *i2 = index_of(args[3], n);
    // an operand read through a map is read where the export's map points; one without, element by element
    const int8_t *x1 = buffer_of(args[0], i1 ? 1 : n, MP_BUFFER_READ);
    const int8_t *x2 = buffer_of(args[2], i2 ? 1 : n, MP_BUFFER_READ);
    int8_t *y = buffer_of(args[4], n, MP_BUFFER_RW);
    if (p[0] == 0) {
        mcu_add_i8(x1, i1, x2, i2, y, n, (const mcu_add_params *)(p + 2));
    } else if (p[0] == 1) {
        mcu_mul_i8(x1, i1, x2, i2, y, n, (const mcu_mul_params *)(p + 2));
    } else {
        mcu_squared_difference_i8(x1, i1, x2, i2, y, n, (const mcu_squared_difference_params *)(p + 2));
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(binary_obj, 6, 6, binary);

// matmul(x1, x2, y, layout, p): BATCH_MATMUL of int8 tensors, the engine's own kernel; layout as
// ops_matmul.py writes it (8 values, then two per batch); p: lhs_offset, rhs_offset, multiplier,
// shift, output_zero_point.
static mp_obj_t matmul(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    const int32_t *p = params_of(args[4], 5);
    mp_buffer_info_t info;
    mp_get_buffer_raise(args[3], &info, MP_BUFFER_READ);
    const int32_t *layout = (const int32_t *)info.buf;
    if (info.len < 32 || info.len != 4 * (8 + 2 * (size_t)layout[7])) {
        mp_raise_ValueError(MP_ERROR_TEXT("wrong matmul layout"));
    }
    const int8_t *x1 = buffer_of(args[0], 1, MP_BUFFER_READ), *x2 = buffer_of(args[1], 1, MP_BUFFER_READ);
    int8_t *y = buffer_of(args[2], layout[0] * layout[1] * layout[7], MP_BUFFER_RW);
    mcu_batch_matmul_i8(x1, x2, y, layout, p[0], p[1], p[2], p[3], p[4]);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(matmul_obj, 5, 5, matmul);

// scratch_bytes(kind, p): the scratch buffer the kernel asks for on this core (kind 0: conv,
// 1: depthwise, 2: average pooling, 4: transpose conv: CMSIS-NN's; 3: fully connected and
// 5: convolution (p: kind, in_c, columns): the own kernels'), with the
// parameter array of that call. The engine allocates the largest once, at import.
static mp_obj_t scratch_bytes(mp_obj_t kind_obj, mp_obj_t p_obj) {
    const mp_int_t kind = mp_obj_get_int(kind_obj);
    int32_t bytes = 0;
    if (kind == 5) {
        const int32_t *p = params_of(p_obj, 3);
        bytes = own_conv_scratch_bytes(p[0], p[1], p[2]);
    } else if (kind == 4) {
        const int32_t *p = params_of(p_obj, TRANSPOSE_CONV_PARAMS);
        const conv_dims d = dims_of(p, 0);
        const cmsis_nn_transpose_conv_params params = transpose_params_of(p);
        int32_t first;
        bytes = transpose_scratch_bytes(&params, &d, &first);
    } else if (kind == 3) {
        bytes = fc_scratch_bytes(params_of(p_obj, 9)[1]);
    } else if (kind == 2) {
        const int32_t *p = params_of(p_obj, 14);
        bytes = arm_avgpool_s8_get_buffer_size(p[4], p[2]);
    } else {
        const int32_t *p = params_of(p_obj, CONV_PARAMS);
        const conv_dims d = dims_of(p, kind == 1);
        if (kind == 1) {
            const cmsis_nn_dw_conv_params params = dw_params_of(p);
            bytes = arm_depthwise_conv_wrapper_s8_get_buffer_size(&params, &d.input, &d.filter, &d.output);
        } else {
            const cmsis_nn_conv_params params = conv_params_of(p);
            bytes = arm_convolve_wrapper_s8_get_buffer_size(&params, &d.input, &d.filter, &d.output);
        }
    }
    return mp_obj_new_int(bytes);
}
static MP_DEFINE_CONST_FUN_OBJ_2(scratch_bytes_obj, scratch_bytes);

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY

    mp_store_global(MP_QSTR_fc, MP_OBJ_FROM_PTR(&fc_obj));
    mp_store_global(MP_QSTR_conv, MP_OBJ_FROM_PTR(&conv_obj));
    mp_store_global(MP_QSTR_depthwise, MP_OBJ_FROM_PTR(&depthwise_obj));
    mp_store_global(MP_QSTR_transpose_conv, MP_OBJ_FROM_PTR(&transpose_conv_obj));
    mp_store_global(MP_QSTR_pool, MP_OBJ_FROM_PTR(&pool_obj));
    mp_store_global(MP_QSTR_softmax, MP_OBJ_FROM_PTR(&softmax_obj));
    mp_store_global(MP_QSTR_add, MP_OBJ_FROM_PTR(&add_obj));
    mp_store_global(MP_QSTR_mul, MP_OBJ_FROM_PTR(&mul_obj));
    mp_store_global(MP_QSTR_lstm, MP_OBJ_FROM_PTR(&lstm_obj));
    mp_store_global(MP_QSTR_binary, MP_OBJ_FROM_PTR(&binary_obj));
    mp_store_global(MP_QSTR_matmul, MP_OBJ_FROM_PTR(&matmul_obj));
    mp_store_global(MP_QSTR_scratch_bytes, MP_OBJ_FROM_PTR(&scratch_bytes_obj));
    // The revision of the kernels, so an engine can tell which module it loaded.
    mp_store_global(MP_QSTR_VERSION, MP_OBJ_NEW_SMALL_INT(MCU_KERNELS_VERSION));

    MP_DYNRUNTIME_INIT_EXIT
}
