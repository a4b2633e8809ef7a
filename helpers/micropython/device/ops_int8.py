# int8 kernels with the arithmetic of TFLM's reference kernels. Tensors are bytearrays of raw
# int8 (int16 tensors: array('h')); weights are bytes; per-channel multipliers come as three
# 14-bit limbs each (array('h'), 3 per output channel) and shifts as an array as long as the
# output channels (a per-tensor one is repeated). The hot loops, requantization among them, are
# in _HOT (hot.py), compiled at import.


def _i8(b):
    return (b ^ 128) - 128


def fully_connected_i8(x, y, w, bias, mult, shift, acc, batches, n_in, n_out, x_offset, zero_point, low, high):
    fc_acc = _HOT["fc_acc"]
    requantize = _HOT["requantize"]
    for b in range(batches):
        fc_acc(x, b * n_in, x_offset, w, acc, n_in, n_out)
        requantize(acc, n_out, n_out, bias, mult, shift, y, b * n_out, zero_point, low, high)


def conv_2d_i8(x, y, w, bias, mult, shift, p, acc, out_h, x_offset, zero_point, low, high):
    row = _HOT["conv_row"]
    requantize = _HOT["requantize"]
    per_row = p[3] * p[4]
    for oy in range(out_h):
        row(x, w, acc, p, oy, x_offset)
        requantize(acc, per_row, p[4], bias, mult, shift, y, oy * per_row, zero_point, low, high)


def depthwise_conv_2d_i8(x, y, w, bias, mult, shift, p, acc, out_h, x_offset, zero_point, low, high):
    row = _HOT["dw_row"]
    requantize = _HOT["requantize"]
    channels = p[2] * p[4]
    per_row = p[3] * channels
    for oy in range(out_h):
        row(x, w, acc, p, oy, x_offset)
        requantize(acc, per_row, channels, bias, mult, shift, y, oy * per_row, zero_point, low, high)


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


def softmax_i8(x, y, rows, depth, exps, rescaled):
    # exps: exp(-d) as Q0.31 for every distance d to the row's maximum; rescaled: the same in Q12.19.
    for r in range(rows):
        base = r * depth
        top = -128
        for c in range(depth):
            v = _i8(x[base + c])
            if v > top:
                top = v
        total = 0
        for c in range(depth):
            total += rescaled[top - _i8(x[base + c])]
        scale, bits_over_unit = reciprocal(total, 12)
        exponent = bits_over_unit + 23
        for c in range(depth):
            v = rdbp(srdhm(scale, exps[top - _i8(x[base + c])]), exponent) - 128
            y[base + c] = (127 if v > 127 else v) & 255


def lookup_i8(x, y, n, table):
    # An element-wise op of one int8 input (LOGISTIC, TANH, ...) as a 256-entry table TFLM filled.
    for i in range(n):
        y[i] = table[x[i]]


def quantize_f_i8(x, y, n, scale, zero_point, low, high):
    # float -> int8: round(x / scale) in float32 (the one-element array rounds a double port's quotient).
    q32 = _F32
    for i in range(n):
        q32[0] = x[i] / scale
        v = q32[0]
        q = (int(v + 0.5) if v >= 0 else -int(-v + 0.5)) + zero_point
        y[i] = (low if q < low else high if q > high else q) & 255


def requantize_i8(x, y, n, x_zero_point, mult, shift, zero_point, low, high):
    for i in range(n):
        v = mbqm(_i8(x[i]) - x_zero_point, mult, shift) + zero_point
        y[i] = (low if v < low else high if v > high else v) & 255


def dequantize_i8(x, y, n, scale, zero_point):
    for i in range(n):
        y[i] = scale * (_i8(x[i]) - zero_point)


def add_i8(x1, i1, x2, i2, y, n, q):
    # ADD (sign 1) or SUB (sign -1). q: offset1, offset2, mult1, shift1, mult2, shift2, out_mult,
    # out_shift, zero_point, low, high, sign; i1/i2: the element of each input for every output
    # element (broadcasting), or None.
    o1, o2, m1, s1, m2, s2, mo, so, zp, low, high, sign = q
    for k in range(n):
        a = _i8(x1[i1[k] if i1 else k]) + o1
        b = _i8(x2[i2[k] if i2 else k]) + o2
        v = mbqm(mbqm(a << 20, m1, s1) + sign * mbqm(b << 20, m2, s2), mo, so) + zp
        y[k] = (low if v < low else high if v > high else v) & 255


def mul_i8(x1, i1, x2, i2, y, n, q):
    # q: offset1, offset2, out_mult, out_shift, zero_point, low, high
    o1, o2, mo, so, zp, low, high = q
    for k in range(n):
        a = _i8(x1[i1[k] if i1 else k]) + o1
        b = _i8(x2[i2[k] if i2 else k]) + o2
        v = mbqm(a * b, mo, so) + zp
        y[k] = (low if v < low else high if v > high else v) & 255


def mean_i8(x, y, groups, x_zero_point, mult, shift, zero_point):
    # groups: the input elements each output element averages.
    for o in range(len(groups)):
        g = groups[o]
        total = 0
        for i in g:
            total += _i8(x[i])
        v = mbqm(total - x_zero_point * len(g), mult, shift) + zero_point
        y[o] = (-128 if v < -128 else 127 if v > 127 else v) & 255
