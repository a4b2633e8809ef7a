# int8 kernels with the arithmetic of TFLM's reference kernels. Tensors are bytearrays of raw
# int8 (int16 tensors: array('h')); weights are bytes; multipliers come as three 14-bit limbs each
# (array('h'), 3 per output channel) and shifts as an array as long as the output channels (a
# per-tensor one is repeated). The hot loops, requantization among them, are in _HOT (hot.py),
# compiled at import. Every value stays a small int on a 32-bit port: an int8 run allocates nothing.


def _i8(b):
    return (b ^ 128) - 128


def _mbqm(x, limbs, shift):
    # MultiplyByQuantizedMultiplier of one value, through the hot loop (no big int on 32 bits).
    one = _I32
    one[0] = x
    _HOT["scale_acc"](0, 0, 0, one, 1, 1, one, limbs, shift, 0, 0, one, 0, 0)
    return one[0]


def _requantize(acc, count, channels, bias, mult, shift, y, y_start, zero_point, low, high):
    _HOT["scale_acc"](0, 0, 0, acc, count, channels, bias, mult, shift, 1, 1, acc, 0, 0)
    _HOT["store_i8"](0, 0, 0, acc, count, y, y_start, zero_point, low, high)


def fully_connected_i8(x, y, w, bias, mult, shift, acc, batches, n_in, n_out, x_offset, zero_point, low, high):
    fc_acc = _HOT["fc_acc"]
    for b in range(batches):
        fc_acc(0, 0, 0, x, b * n_in, x_offset, w, acc, n_in, n_out)
        _requantize(acc, n_out, n_out, bias, mult, shift, y, b * n_out, zero_point, low, high)


def conv_2d_i8(x, y, w, bias, mult, shift, p, acc, col, out_h, x_offset, zero_point, low, high):
    # col: the im2col scratch, one input window (k_h * k_w * in_c bytes).
    row = _HOT["conv_row"]
    per_row = p[3] * p[4]
    for oy in range(out_h):
        row(0, 0, 0, x, w, acc, col, p, oy, x_offset)
        _requantize(acc, per_row, p[4], bias, mult, shift, y, oy * per_row, zero_point, low, high)


def depthwise_conv_2d_i8(x, y, w, bias, mult, shift, p, acc, out_h, x_offset, zero_point, low, high):
    row = _HOT["dw_row"]
    channels = p[2] * p[4]
    per_row = p[3] * channels
    for oy in range(out_h):
        row(0, 0, 0, x, w, acc, p, oy, x_offset)
        _requantize(acc, per_row, channels, bias, mult, shift, y, oy * per_row, zero_point, low, high)


def max_pool_2d_i8(x, y, p, low, high):
    _HOT["max_pool_i8"](x, y, p, low, high)


def average_pool_2d_i8(x, y, p, low, high):
    # p as for max pooling; TFLM divides the window's sum by its valid cells, rounding half away.
    in_h, in_w, channels, out_h, out_w, k_h, k_w, s_h, s_w, pad_t, pad_l = p
    o = 0
    for oy in range(out_h):
        y0 = oy * s_h - pad_t
        for ox in range(out_w):
            x0 = ox * s_w - pad_l
            for c in range(channels):
                total = 0
                count = 0
                for iy in range(max(0, y0), min(in_h, y0 + k_h)):
                    for ix in range(max(0, x0), min(in_w, x0 + k_w)):
                        total += _i8(x[(iy * in_w + ix) * channels + c])
                        count += 1
                if total > 0:
                    v = (total + count // 2) // count
                else:
                    v = -((-total + count // 2) // count)
                v = low if v < low else high if v > high else v
                y[o] = v & 255
                o += 1


def softmax_i8(x, y, rows, depth, exp_limbs, rescaled):
    # exp_limbs: exp(-d) as Q0.31 for every distance d to the row's maximum, three 11-bit limbs
    # each; rescaled: the same in Q12.19. TFLM's GetReciprocal of the row's sum is computed here in
    # small ints (_reciprocal_limbs), the outputs in the hot loop.
    r = _I32  # the row's max and sum, then its scale's limbs and shift
    for row in range(rows):
        base = row * depth
        _HOT["softmax_sum"](x, base, depth, rescaled, r)
        _reciprocal_limbs(r)
        _HOT["softmax_out"](x, y, base, depth, exp_limbs, r[0], r[2], r[3], r[4], r[5])


def _reciprocal_limbs(r):
    # gemmlowp's GetReciprocal(total = r[1], 12 integer digits) as TFLM's softmax takes it: the
    # Q0.31 scale as 11-bit limbs (r[2:5]) and the shift softmax_out applies (bits over unit + 23 -
    # 14, r[5]). Every value
    # stays below 2**30: total << (30 - its bit length) = u is the half denominator over two, so
    # each SaturatingRoundingDoublingHighMul by it is hi30(u, b, ...) and Newton's x (Q2.29) stays
    # below 2**30 -- except for u = 2**29 (a total that is a power of two), whose reciprocal
    # saturates to the largest Q0.31. The corrections never saturate (|srdhm| < 2**24).
    hi30 = _HOT["hi30"]
    total = r[1]
    bits = 0
    while total >> bits:
        bits += 1
    u = total << (30 - bits)
    shift = 12 - (32 - bits) + 23 - 14
    r[5] = shift
    if u == 536870912:
        r[2] = 2047
        r[3] = 2047
        r[4] = 511
        return
    # x = 48 / 17 - 32 / 17 * half_denominator: 1515870810 - srdhm(2u, 1010580540), in steps
    # below 2**30.
    x = 442128986 - hi30(u, 1010580540, 16383, 32767) + 1073741823 + 1
    for _ in range(3):
        one_minus = 536870912 - hi30(u, x, 16384, 0)
        if one_minus >= 0:
            correction = hi30(x, one_minus, 32768, 0) >> 1
        else:
            correction = 0 - (hi30(x, 0 - one_minus, 32767, 32767) >> 1)
        x += correction * 4
    r[2] = (x & 1023) << 1
    r[3] = (x >> 10) & 2047
    r[4] = x >> 21


def lookup_i8(x, y, n, table):
    # An element-wise op of one int8 input (LOGISTIC, TANH, ...) as a 256-entry table TFLM filled.
    _HOT["lookup_i8"](0, x, y, n, table)


def gather_i8(x, y, index, pad):
    # gather.py's gather on int8 tensors, in the hot loop.
    _HOT["gather_i8"](0, x, y, index, len(index), pad)


def quantize_f_i8(x, y, n, scale, zero_point, low, high):
    # float -> int8: round(x / scale) in float32 (the one-element array rounds a double port's quotient).
    q32 = _F32
    for i in range(n):
        q32[0] = x[i] / scale
        v = q32[0]
        q = (int(v + 0.5) if v >= 0 else -int(-v + 0.5)) + zero_point
        y[i] = (low if q < low else high if q > high else q) & 255


def requantize_i8(x, y, n, x_zero_point, limbs, shift, zero_point, low, high):
    widen, scale, store = _HOT["widen_i8"], _HOT["scale_acc"], _HOT["store_i8"]
    a = _EW_A
    for start in range(0, n, 64):
        count = min(64, n - start)
        widen(0, 0, 0, x, x, 0, start, count, 0 - x_zero_point, 0, a, 0)
        scale(0, 0, 0, a, count, 1, a, limbs, shift, 0, 0, a, 0, 0)
        store(0, 0, 0, a, count, y, start, zero_point, low, high)


def dequantize_i8(x, y, n, scale, zero_point):
    for i in range(n):
        y[i] = scale * (_i8(x[i]) - zero_point)


# ADD, SUB, MUL and requantization run 64 elements at a time through two int32 scratch arrays
# (_EW_A, _EW_B: 512 bytes), a handful of hot calls per chunk rather than a few per element.
def add_i8(x1, i1, x2, i2, y, n, q, multipliers):
    # ADD (sign 1) or SUB (sign -1). q: offset1, offset2, zero_point, low, high, sign; multipliers:
    # each input's and the output's (limbs, shift) arrays; i1/i2: the element of each input for every
    # output element (broadcasting), or None. TFLM: both inputs << 20, each rescaled, summed,
    # rescaled to the output.
    o1, o2, zp, low, high, sign = q
    l1, s1, l2, s2, lo, so = multipliers
    widen, scale, store = _HOT["widen_i8"], _HOT["scale_acc"], _HOT["store_i8"]
    a = _EW_A
    b = _EW_B
    for start in range(0, n, 64):
        count = min(64, n - start)
        widen(0, 0, 0, x1, i1 or x1, 1 if i1 else 0, start, count, o1, 20, a, 0)
        scale(0, 0, 0, a, count, 1, a, l1, s1, 0, 0, a, 0, 0)
        widen(0, 0, 0, x2, i2 or x2, 1 if i2 else 0, start, count, o2, 20, b, 0)
        scale(0, 0, 0, b, count, 1, b, l2, s2, 0, 0, b, 0, 0)
        _HOT["add_scaled"](0, a, b, count, sign)
        scale(0, 0, 0, a, count, 1, a, lo, so, 0, 0, a, 0, 0)
        store(0, 0, 0, a, count, y, start, zp, low, high)


def mul_i8(x1, i1, x2, i2, y, n, q, limbs, shift):
    # q: offset1, offset2, zero_point, low, high
    o1, o2, zp, low, high = q
    widen, scale, store = _HOT["widen_i8"], _HOT["scale_acc"], _HOT["store_i8"]
    a = _EW_A
    for start in range(0, n, 64):
        count = min(64, n - start)
        widen(0, 0, 0, x1, i1 or x1, 1 if i1 else 0, start, count, o1, 0, a, 0)
        widen(0, 0, 0, x2, i2 or x2, 1 if i2 else 0, start, count, o2, 0, a, 1)
        scale(0, 0, 0, a, count, 1, a, limbs, shift, 0, 0, a, 0, 0)
        store(0, 0, 0, a, count, y, start, zp, low, high)


def mean_i8(x, y, groups, x_zero_point, limbs, shift, zero_point):
    # groups: the input elements each output element averages.
    for o in range(len(groups)):
        g = groups[o]
        total = 0
        for i in g:
            total += _i8(x[i])
        v = _mbqm(total - x_zero_point * len(g), limbs, shift) + zero_point
        y[o] = (-128 if v < -128 else 127 if v > 127 else v) & 255
