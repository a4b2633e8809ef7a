# The int8 ops the generated engine calls, as hot functions themselves (viper where the port has
# it): a plain-code function with this many arguments gets its frame from the heap on every call,
# which costs thousands of instructions on a board whose heap holds the model; a viper function's
# frame is on the C stack. Each op calls hot.py's loops; scratch arrays come as arguments
# (the module's _ACC, _COL, _EW_A, _EW_B and _I32).


def fully_connected_i8(x, y, w, bias, mult, shift, acc, batches: int, n_in: int, n_out: int, x_offset: int,
                       zero_point: int, low: int, high: int):
    for b in range(batches):
        fc_acc(0, 0, 0, x, b * n_in, x_offset, w, acc, n_in, n_out)
        scale_acc(0, 0, 0, acc, n_out, n_out, bias, mult, shift, 1, 1, acc, 0, 0)
        store_i8(0, 0, 0, acc, n_out, y, b * n_out, zero_point, low, high)


def conv_2d_i8(x, y, w, bias, mult, shift, p, acc, col, out_h: int, x_offset: int, zero_point: int, low: int,
               high: int):
    # col: the im2col scratch, one input window (k_h * k_w * in_c bytes).
    pp = ptr32(p)
    out_c = pp[4]
    per_row = pp[3] * out_c
    for oy in range(out_h):
        conv_row(0, 0, 0, x, w, acc, col, p, oy, x_offset)
        scale_acc(0, 0, 0, acc, per_row, out_c, bias, mult, shift, 1, 1, acc, 0, 0)
        store_i8(0, 0, 0, acc, per_row, y, oy * per_row, zero_point, low, high)


def depthwise_conv_2d_i8(x, y, w, bias, mult, shift, p, acc, out_h: int, x_offset: int, zero_point: int, low: int,
                         high: int):
    pp = ptr32(p)
    channels = pp[2] * pp[4]
    per_row = pp[3] * channels
    for oy in range(out_h):
        dw_row(0, 0, 0, x, w, acc, p, oy, x_offset)
        scale_acc(0, 0, 0, acc, per_row, channels, bias, mult, shift, 1, 1, acc, 0, 0)
        store_i8(0, 0, 0, acc, per_row, y, oy * per_row, zero_point, low, high)


def batch_matmul_i8(lhs, rhs, y, p, acc, limbs, shift, lhs_offset: int, rhs_offset: int, zero_point: int):
    # One row of int32 sums at a time, scaled by the one multiplier (no bias) and stored as int8.
    pp = ptr32(p)
    rows = pp[0]
    cols = pp[1]
    for b in range(pp[7]):
        for i in range(rows):
            bmm_row(0, 0, 0, lhs, rhs, acc, p, i, b, lhs_offset, rhs_offset)
            scale_acc(0, 0, 0, acc, cols, 1, acc, limbs, shift, 0, 0, acc, 0, 0)
            store_i8(0, 0, 0, acc, cols, y, (b * rows + i) * cols, zero_point, -128, 127)


def softmax_i8(x, y, rows: int, depth: int, exp_limbs, rescaled, r):
    # exp_limbs: exp(-d) as Q0.31 for every distance d to the row's maximum, three 11-bit limbs
    # each; rescaled: the same in Q12.19; r: int32 scratch for the row's max, sum and scale.
    for row in range(rows):
        base = row * depth
        softmax_sum(x, base, depth, rescaled, r)
        softmax_scale(r)
        softmax_out(x, y, base, depth, exp_limbs, r)


# ADD, SUB, MUL and requantization run 64 elements at a time through two int32 scratch arrays
# (the module's _EW_A and _EW_B, 256 bytes each).
def requantize_i8(x, y, n: int, x_zero_point: int, limbs, shift, zero_point: int, low: int, high: int, a):
    start = 0
    while start < n:
        count = n - start
        if count > 64:
            count = 64
        widen_i8(0, 0, 0, x, x, 0, start, count, 0 - x_zero_point, 0, a, 0)
        scale_acc(0, 0, 0, a, count, 1, a, limbs, shift, 0, 0, a, 0, 0)
        store_i8(0, 0, 0, a, count, y, start, zero_point, low, high)
        start += 64


def add_i8(x1, map1, use1: int, x2, map2, use2: int, y, n: int, o1: int, o2: int, zp: int, low: int, high: int,
           sign: int, multipliers, a, b):
    # ADD (sign 1) or SUB (sign -1). mapK/useK: with useK, mapK holds the element of input K for
    # every output element (broadcasting); o1/o2: the input offsets; multipliers: each input's and
    # the output's (limbs, shift) arrays. As TFLM: both inputs << 20, each rescaled, summed, the
    # sum rescaled to the output, plus its zero point, clamped to [low, high].
    start = 0
    while start < n:
        count = n - start
        if count > 64:
            count = 64
        widen_i8(0, 0, 0, x1, map1, use1, start, count, o1, 20, a, 0)
        scale_acc(0, 0, 0, a, count, 1, a, multipliers[0], multipliers[1], 0, 0, a, 0, 0)
        widen_i8(0, 0, 0, x2, map2, use2, start, count, o2, 20, b, 0)
        scale_acc(0, 0, 0, b, count, 1, b, multipliers[2], multipliers[3], 0, 0, b, 0, 0)
        add_scaled(0, a, b, count, sign)
        scale_acc(0, 0, 0, a, count, 1, a, multipliers[4], multipliers[5], 0, 0, a, 0, 0)
        store_i8(0, 0, 0, a, count, y, start, zp, low, high)
        start += 64


def mul_i8(x1, map1, use1: int, x2, map2, use2: int, y, n: int, o1: int, o2: int, zp: int, low: int, high: int,
           limbs, shift, a):
    # MUL: (x1 + o1) * (x2 + o2), rescaled to the output (operands as add_i8's).
    start = 0
    while start < n:
        count = n - start
        if count > 64:
            count = 64
        widen_i8(0, 0, 0, x1, map1, use1, start, count, o1, 0, a, 0)
        widen_i8(0, 0, 0, x2, map2, use2, start, count, o2, 0, a, 1)
        scale_acc(0, 0, 0, a, count, 1, a, limbs, shift, 0, 0, a, 0, 0)
        store_i8(0, 0, 0, a, count, y, start, zp, low, high)
        start += 64


def mean_i8(x, y, groups, count: int, outputs: int, x_zero_point: int, limbs, shift, zero_point: int, a):
    # MEAN: output o averages the `count` input elements groups[o * count:(o + 1) * count] (int32),
    # as TFLM: the sum less count zero points, times the multiplier 1 / count folds in, clamped.
    xp = ptr8(x)
    gp = ptr32(groups)
    ap = ptr32(a)
    start = 0
    while start < outputs:
        chunk = outputs - start
        if chunk > 64:
            chunk = 64
        for j in range(chunk):
            base = (start + j) * count
            total = 0
            for i in range(count):
                total += (xp[gp[base + i]] ^ 128) - 128
            ap[j] = total - x_zero_point * count
        scale_acc(0, 0, 0, a, chunk, 1, a, limbs, shift, 0, 0, a, 0, 0)
        store_i8(0, 0, 0, a, chunk, y, start, zero_point, -128, 127)
        start += 64


def squared_difference_i8(x1, map1, use1: int, x2, map2, use2: int, y, n: int, o1: int, o2: int, zp: int,
                          multipliers, a, b):
    # SQUARED_DIFFERENCE (operands as add_i8's), as squared_difference.cc: both inputs << 7, each
    # rescaled, the difference squared, rescaled to the output, plus its zero point, clamped to int8.
    start = 0
    while start < n:
        count = n - start
        if count > 64:
            count = 64
        widen_i8(0, 0, 0, x1, map1, use1, start, count, o1, 7, a, 0)
        scale_acc(0, 0, 0, a, count, 1, a, multipliers[0], multipliers[1], 0, 0, a, 0, 0)
        widen_i8(0, 0, 0, x2, map2, use2, start, count, o2, 7, b, 0)
        scale_acc(0, 0, 0, b, count, 1, b, multipliers[2], multipliers[3], 0, 0, b, 0, 0)
        add_scaled(0, a, b, count, -1)
        square_acc(0, a, count)
        scale_acc(0, 0, 0, a, count, 1, a, multipliers[4], multipliers[5], 0, 0, a, 0, 0)
        store_i8(0, 0, 0, a, count, y, start, zp, -128, 127)
        start += 64


def extremum_i8(i: int, j: int, k: int, x1, map1, use1: int, x2, map2, use2: int, y, n: int, larger: int):
    # MAXIMUM (larger 1) or MINIMUM (larger 0) of int8 tensors, operands as add_i8's: TFLM compares
    # the stored values. Flipping a byte's sign bit orders bytes as the int8 values they hold.
    # i, j, k: see fc_acc.
    ap = ptr8(x1)
    bp = ptr8(x2)
    m1 = ptr32(map1)
    m2 = ptr32(map2)
    yp = ptr8(y)
    k = 0
    while k < n:
        i = k
        if use1:
            i = m1[k]
        j = k
        if use2:
            j = m2[k]
        a = ap[i]
        b = bp[j]
        if larger:
            if (b ^ 128) > (a ^ 128):
                a = b
        elif (b ^ 128) < (a ^ 128):
            a = b
        yp[k] = a
        k += 1


def compare_i8(x1, map1, use1: int, x2, map2, use2: int, y, n: int, o1: int, o2: int, shift: int, kind: int,
               multipliers, a, b):
    # EQUAL, NOT_EQUAL, GREATER, GREATER_EQUAL, LESS, LESS_EQUAL (kind 0 to 5) of int8 tensors into a
    # bool one (bytes 0 and 1), operands as add_i8's, as comparisons.h's WithScaling forms: each
    # input plus its offset, << shift, times its own scale (limbs, shift arrays), then compared.
    start = 0
    while start < n:
        count = n - start
        if count > 64:
            count = 64
        widen_i8(0, 0, 0, x1, map1, use1, start, count, o1, shift, a, 0)
        scale_acc(0, 0, 0, a, count, 1, a, multipliers[0], multipliers[1], 0, 0, a, 0, 0)
        widen_i8(0, 0, 0, x2, map2, use2, start, count, o2, shift, b, 0)
        scale_acc(0, 0, 0, b, count, 1, b, multipliers[2], multipliers[3], 0, 0, b, 0, 0)
        compare_scaled(0, 0, 0, a, b, y, start, count, kind)
        start += 64
