# int16x8 kernels (int16 activations in array('h'), int8 weights as raw bytes, int64 biases as
# ints) with the arithmetic of TFLM's reference kernels. Plain Python, not viper, in this pass:
# the int64 sums are exact as Python ints, but on a 32-bit port they are big ints, allocated per
# product (hot.py's 14-bit limbs, which keep the int8 path allocation-free, would do the same
# here and are left for later).


def _mbqm64(acc, m, shift):
    # TFLM's MultiplyByQuantizedMultiplier for an int64 accumulator: the multiplier rounded to
    # 16 bits, one rounding shift: (acc * r + 2**(14 - shift)) >> (15 - shift). An accumulator
    # that is a small int on a 32-bit port (31 bits) is split at bit 15 (acc = hi * 2**15 + lo,
    # 0 <= lo < 2**15), so no product needs more than 31 bits: no big int. A larger one is a big
    # int already, and the direct formula allocates least.
    r = (m + 32768) >> 16 if m < 0x7FFF0000 else 0x7FFF
    if shift > 0 or acc < -1073741824 or acc > 1073741823:
        total = 15 - shift
        return (acc * r + (1 << (total - 1))) >> total
    hi = acc >> 15
    if shift == 0:
        return hi * r + (((acc & 32767) * r + 16384) >> 15)
    return (hi * r + (1 << (-shift - 1)) + (((acc & 32767) * r) >> 15)) >> -shift


def _mbqm32(x, m, shift):
    # TFLM's MultiplyByQuantizedMultiplier for an int32 value (double rounding): the left shift,
    # SaturatingRoundingDoublingHighMul, RoundingDivideByPOT.
    left = shift if shift > 0 else 0
    right = 0 if shift > 0 else -shift
    a = x * (1 << left)
    if a == m == -2147483648:
        h = 2147483647
    else:
        p = a * m
        h = (p + (1 << 30) if p >= 0 else p + 1 - (1 << 30))
        h = h // 2147483648 if h >= 0 else -((-h) // 2147483648)
    if right == 0:
        return h
    mask = (1 << right) - 1
    rem = h & mask
    threshold = (mask >> 1) + (1 if h < 0 else 0)
    return (h >> right) + (1 if rem > threshold else 0)


def _clamp16(v, low, high):
    return low if v < low else high if v > high else v


def fully_connected_i16(x, y, w, bias, mult, shift, batches, n_in, n_out, low, high):
    for b in range(batches):
        base = b * n_in
        for o in range(n_out):
            row = o * n_in
            acc = bias[o]
            for i in range(n_in):
                acc += x[base + i] * ((w[row + i] ^ 128) - 128)
            y[b * n_out + o] = _clamp16(_mbqm64(acc, mult[o], shift[o]), low, high)


def conv_2d_i16(x, y, w, bias, mult, shift, p, out_h, low, high):
    # p: in_h, in_w, in_c, out_w, out_c, k_h, k_w, stride_h, stride_w, dilation_h, dilation_w,
    # pad_top, pad_left; weights [out_c, k_h, k_w, in_c].
    in_h, in_w, in_c, out_w, out_c, k_h, k_w, s_h, s_w, d_h, d_w, pad_t, pad_l = p
    o = 0
    for oy in range(out_h):
        for ox in range(out_w):
            for c in range(out_c):
                acc = bias[c]
                for ky in range(k_h):
                    iy = oy * s_h - pad_t + ky * d_h
                    if iy < 0 or iy >= in_h:
                        continue
                    for kx in range(k_w):
                        ix = ox * s_w - pad_l + kx * d_w
                        if ix < 0 or ix >= in_w:
                            continue
                        xb = (iy * in_w + ix) * in_c
                        wb = ((c * k_h + ky) * k_w + kx) * in_c
                        for i in range(in_c):
                            acc += x[xb + i] * ((w[wb + i] ^ 128) - 128)
                y[o] = _clamp16(_mbqm64(acc, mult[c], shift[c]), low, high)
                o += 1


def depthwise_conv_2d_i16(x, y, w, bias, mult, shift, p, out_h, low, high):
    # p as for conv_2d_i16 with the depth multiplier in place of out_c; weights [1, k_h, k_w, out_c].
    in_h, in_w, in_c, out_w, depth, k_h, k_w, s_h, s_w, d_h, d_w, pad_t, pad_l = p
    out_c = in_c * depth
    o = 0
    for oy in range(out_h):
        for ox in range(out_w):
            for c in range(out_c):
                ic = c // depth
                acc = bias[c]
                for ky in range(k_h):
                    iy = oy * s_h - pad_t + ky * d_h
                    if iy < 0 or iy >= in_h:
                        continue
                    for kx in range(k_w):
                        ix = ox * s_w - pad_l + kx * d_w
                        if 0 <= ix < in_w:
                            acc += x[(iy * in_w + ix) * in_c + ic] * ((w[(ky * k_w + kx) * out_c + c] ^ 128) - 128)
                y[o] = _clamp16(_mbqm64(acc, mult[c], shift[c]), low, high)
                o += 1


def pool_2d_i16(x, y, p, average, low, high):
    # p: in_h, in_w, channels, out_h, out_w, k_h, k_w, stride_h, stride_w, pad_top, pad_left.
    # Average: the sum over the valid cells divided by their count, rounding half away from zero.
    in_h, in_w, channels, out_h, out_w, k_h, k_w, s_h, s_w, pad_t, pad_l = p
    o = 0
    for oy in range(out_h):
        y0 = oy * s_h - pad_t
        for ox in range(out_w):
            x0 = ox * s_w - pad_l
            for c in range(channels):
                total = 0
                count = 0
                best = -32768
                for iy in range(max(0, y0), min(in_h, y0 + k_h)):
                    for ix in range(max(0, x0), min(in_w, x0 + k_w)):
                        v = x[(iy * in_w + ix) * channels + c]
                        total += v
                        count += 1
                        best = v if v > best else best
                if average:
                    if total > 0:
                        best = (total + count // 2) // count
                    else:
                        best = -((-total + count // 2) // count)
                y[o] = _clamp16(best, low, high)
                o += 1


def add_i16(x1, i1, x2, i2, y, n, p, low, high):
    # ADD (sign 1) or SUB (sign -1). p: input1 multiplier, shift, input2 multiplier, shift, output
    # multiplier, shift, sign; each input shifted left 15 bits first (add_common.cc's left_shift
    # for int16); i1, i2: a broadcast input's index map, or None.
    m1, s1, m2, s2, mo, so, sign = p
    for i in range(n):
        a = _mbqm32(x1[i if i1 is None else i1[i]] << 15, m1, s1)
        b = _mbqm32(x2[i if i2 is None else i2[i]] << 15, m2, s2)
        y[i] = _clamp16(_mbqm32(a + sign * b, mo, so), low, high)


def mul_i16(x1, i1, x2, i2, y, n, m, shift, low, high):
    for i in range(n):
        y[i] = _clamp16(_mbqm32(x1[i if i1 is None else i1[i]] * x2[i if i2 is None else i2[i]], m, shift), low,
                        high)


def _lut16(v, lut):
    # TFLM's LUTLookup: the table's 513 entries interpolated in steps of 1/128.
    i = 256 + (v >> 7)
    base = lut[i]
    return base + (((lut[i + 1] - base) * (v & 127) + 64) >> 7)


def softmax_i16(x, y, rows, depth, mult, shift, exp_lut, one_lut):
    # TFLM's SoftmaxInt16: the exps cached in y, their sum normalised (headroom: its leading
    # zeros as a uint32) and looked up as 1 / (1 + x), each exp scaled by it into Q0.15.
    for r in range(rows):
        base = r * depth
        top = x[base]
        for j in range(1, depth):
            top = x[base + j] if x[base + j] > top else top
        total = 0
        for j in range(depth):
            d = _clamp16(_mbqm32(x[base + j] - top, mult, shift) + 32767, -32768, 32767)
            e = _lut16(d, exp_lut)
            y[base + j] = e
            total += e
        headroom = 32
        t = total
        while t:
            t >>= 1
            headroom -= 1
        # ((total << (headroom - 1)) + 2**13) >> 14 without the 31-bit intermediate (a big int on a
        # 32-bit port): exact either way, the shifts cancel
        k = headroom - 1
        shifted = (total << (k - 14)) if k >= 14 else (total + (1 << (13 - k))) >> (14 - k)
        recip = _lut16(_clamp16(shifted - 98304, -32768, 32767), one_lut)
        right = 31 - headroom
        for j in range(depth):
            y[base + j] = _clamp16((y[base + j] * recip + (1 << (right - 1))) >> right, 0, 32767)


def requantize_i16(x, y, n, m, shift):
    for i in range(n):
        y[i] = _clamp16(_mbqm32(x[i], m, shift), -32768, 32767)


def quantize_f_i16(x, y, n, scale, zero_point, low, high):
    # float -> int16: round(x / scale) in float32 (the one-element array rounds a double port's quotient).
    q32 = _F32
    for i in range(n):
        q32[0] = x[i] / scale
        v = q32[0]
        y[i] = _clamp16((int(v + 0.5) if v >= 0 else -int(-v + 0.5)) + zero_point, low, high)


def dequantize_i16(x, y, n, scale, zero_point):
    for i in range(n):
        y[i] = scale * (x[i] - zero_point)


def sigmoid_i16(x, y, n, mult, shift, table, tanh):
    # TFLM's reference int16 LOGISTIC (tanh 0) and TANH (tanh 1): the input onto the table's grid,
    # then interpolated in sigmoid(i / 24) (tanh(x) = 2 sigmoid(2x) - 1: half the grid step).
    rnd = (1 << (shift - 1)) if shift > 0 else 0
    bits = 8 if tanh else 9
    mask = (1 << bits) - 1
    for i in range(n):
        v = (x[i] * mult + rnd) >> shift
        a = -v if v < 0 else v
        h = a >> bits
        if h >= 255:
            r = (0xFFFF << 8) if tanh else (0x7FFF << 10)
        else:
            ua = table[h]
            r = (ua << bits) + (a & mask) * (table[h + 1] - ua)
        if tanh:
            y[i] = ((r - (1 << 23) + (1 << 7)) if v >= 0 else (-r + (1 << 23) + (1 << 7) - 1)) >> 8
        else:
            y[i] = ((r + (1 << 9)) if v >= 0 else ((1 << 25) - r + (1 << 9) - 1)) >> 10


def mean_i16(x, y, groups, outputs, count, m, shift):
    # groups[o * count + k]: the input elements output o averages (int16 zero points are 0).
    for o in range(outputs):
        total = 0
        base = o * count
        for k in range(count):
            total += x[groups[base + k]]
        y[o] = _clamp16(_mbqm32(total, m, shift), -32768, 32767)


def activation_i16(x, y, n, p, low, high):
    # RELU (both signs by one multiplier), LEAKY_RELU (negatives by alpha's; sign -1: a negative
    # alpha), RELU6 (rescale 0: the raw value), ABS (absolute: |x|, then as RELU), then the clamp.
    rescale, m, s, nm, ns, sign, absolute = p
    for i in range(n):
        v = x[i]
        if absolute and v < 0:
            v = -v
        if rescale:
            v = _mbqm32(v, m, s) if v >= 0 else sign * _mbqm32(v, nm, ns)
        y[i] = _clamp16(v, low, high)


def squared_difference_i16(x1, i1, x2, i2, y, n, p):
    # squared_difference.cc with left_shift 0: each input rescaled, the difference squared (at
    # most 2**30: a small int on a 32-bit port only below 2**30) and rescaled to the output.
    m1, s1, m2, s2, mo, so = p
    for i in range(n):
        d = _mbqm32(x1[i if i1 is None else i1[i]], m1, s1) - _mbqm32(x2[i if i2 is None else i2[i]], m2, s2)
        y[i] = _clamp16(_mbqm32(d * d, mo, so), -32768, 32767)


def batch_matmul_i16(lhs, rhs, y, layout, m, shift):
    # TFLM's reference BatchMatMul<int16_t, int64_t>; layout as batch_matmul_i8's: M, N, K, the lhs
    # row and depth strides, the rhs depth and column strides, the batches, two bases per batch.
    rows, cols, depth, lr, ld, rd, rc, batches = layout[0], layout[1], layout[2], layout[3], layout[4], \
        layout[5], layout[6], layout[7]
    for b in range(batches):
        lb = layout[8 + 2 * b]
        rb = layout[9 + 2 * b]
        for i in range(rows):
            for j in range(cols):
                acc = 0
                for k in range(depth):
                    acc += lhs[lb + i * lr + k * ld] * rhs[rb + k * rd + j * rc]
                y[(b * rows + i) * cols + j] = _clamp16(_mbqm64(acc, m, shift), -32768, 32767)


def prelu_i16(x, y, n, alphas, period, p):
    # prelu_common.cc: x >= 0 by the first multiplier, x * alpha by the second (alphas[i % period],
    # their zero point taken off at export), then the output offset.
    io, oo, m1, s1, m2, s2 = p
    for i in range(n):
        v = x[i] + io
        out = _mbqm32(v, m1, s1) if v >= 0 else _mbqm32(v * alphas[i % period], m2, s2)
        y[i] = _clamp16(out + oo, -32768, 32767)
