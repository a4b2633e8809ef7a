# The layer kernels (LOG_SOFTMAX, L2_NORMALIZATION, RESIZE_BILINEAR, ADD_N, CUMSUM), int8 and
# float32, with the arithmetic of TFLM's reference kernels, and int16 RSQRT, which is
# L2_NORMALIZATION's inverse square root per element. Plain Python, pasted only when used:
# the int8 ones run gemmlowp's fixed point on ints (a per-row log or inverse square root, big
# ints on a 32-bit port for a few products per row; int16 RSQRT's per element), the element loops
# on small ints. int8 tensors are bytearrays and bytes (raw bytes: (v ^ 128) - 128 is the value,
# value & 255 the byte); int16 ones array('h').


def _lf_srdhm(a, b):
    # SaturatingRoundingDoublingHighMul
    if a == b and a == -2147483648:
        return 2147483647
    ab = a * b
    if ab >= 0:
        return (ab + 1073741824) >> 31
    return -((-(ab + 1 - 1073741824)) >> 31)


def _lf_rdbp(x, e):
    # RoundingDivideByPOT
    if e <= 0:
        return x
    mask = (1 << e) - 1
    return (x >> e) + (1 if (x & mask) > (mask >> 1) + (1 if x < 0 else 0) else 0)


def _lf_wrap(v):
    v &= 0xFFFFFFFF
    return v - 4294967296 if v > 2147483647 else v


def _lf_mbqm(x, m, shift):
    # MultiplyByQuantizedMultiplier (double rounding)
    if shift > 0:
        return _lf_srdhm(_lf_wrap(x << shift), m)
    return _lf_rdbp(_lf_srdhm(x, m), -shift)


def _lf_shl(x, e):
    # SaturatingRoundingMultiplyByPOT, e >= 0
    if e == 0:
        return x
    limit = (1 << (31 - e)) - 1
    return 2147483647 if x > limit else -2147483648 if x < -limit else x << e


def _lf_clz(x):
    n = 32
    while x:
        x >>= 1
        n -= 1
    return n


def _lf_one_over_one_plus_x(a):
    # gemmlowp one_over_one_plus_x_for_x_in_0_1 (Q0.31 in and out)
    total = a + 2147483647
    half = (total + 1) // 2 if total >= 0 else -((1 - total) // 2)
    x = 1515870810 + _lf_srdhm(half, -1010580540)
    for _ in range(3):
        x = _lf_wrap(x + _lf_shl(_lf_srdhm(x, 536870912 - _lf_srdhm(half, x)), 2))
    return _lf_shl(x, 1)


def _lf_log(v):
    # log_x_for_x_greater_than_or_equal_to_1<5, 12>: a Q12.19 value's log in Q5.26
    srdhm = _lf_srdhm
    quarter = 1 << 23                      # Rescale<6>(1/4)
    za_head = _lf_clz(v)
    r_a = _lf_shl(srdhm(_lf_shl(v, za_head - 1), 1518500250), 1)
    za_adj = _lf_shl(12 - za_head, 25) + quarter
    za_adj = 2147483647 if za_adj > 2147483647 else za_adj
    zb_head = _lf_clz(srdhm(v, 1518500250)) - 1
    r_b = _lf_shl(v, zb_head)
    zb_adj = _lf_shl(12 - zb_head, 25) - quarter
    zb_adj = -2147483648 if zb_adj < -2147483648 else zb_adj
    r = r_a if r_a < r_b else r_b
    adj = za_adj if za_adj > zb_adj else zb_adj
    s = r + 1805811301
    p = (s + (1 if s >= 0 else -1)) // 2 if s >= 0 else -((-(s - 1)) // 2)
    q = r - 1805811301
    q = q + q
    sq = srdhm(q, q)
    num = srdhm(q, r) + srdhm(srdhm(q, sq), 117049297)
    denom = srdhm(p, 1057819769 + q + srdhm(127690142, sq)) + srdhm(638450708, q)
    total = srdhm(adj, 1488522236) + srdhm(_lf_rdbp(num, 6), _lf_one_over_one_plus_x(denom))
    return _lf_shl(total, 1)


def log_softmax_i8(x, y, rows, depth, diffs, exps, diff_min, rev_m, rev_s):
    for row in range(rows):
        base = row * depth
        top = -128
        for c in range(depth):
            v = (x[base + c] ^ 128) - 128
            if v > top:
                top = v
        total = 0
        for c in range(depth):
            total += exps[top - ((x[base + c] ^ 128) - 128)]
        log_sum = _lf_log(total)
        adjusted = _lf_mbqm(log_sum - 2147483648, rev_m, rev_s)
        if adjusted < diff_min - 1:
            adjusted = diff_min - 1
        for c in range(depth):
            v = (x[base + c] ^ 128) - 128
            if v - top > adjusted:
                out = _lf_rdbp(diffs[top - v] - log_sum, 22) + 127
                y[base + c] = 128 if out < -128 else 127 if out > 127 else out & 255
            else:
                y[base + c] = 128


def _lf_inv_sqrt(v):
    # GetInvSqrtQuantizedMultiplierExp(v, kReverseShift): (multiplier, shift)
    if v <= 1:
        return 2147483647, 0
    shift = 11
    while v >= 536870912:
        v //= 4
        shift += 1
    pairs = (_lf_clz(v) - 1) // 2 - 1
    shift -= pairs
    v <<= 2 * pairs
    srdhm = _lf_srdhm
    half = _lf_rdbp(v >> 1, 1)
    x = 1 << 28
    for _ in range(5):
        x3 = _lf_shl(srdhm(srdhm(x, x), x), 6)
        x = _lf_shl(srdhm(402653184, x) - srdhm(half, x3), 3)
    x = srdhm(x, 1518500250)
    if shift < 0:
        x = _lf_wrap(x << -shift)
        shift = 0
    return x, -shift


def rsqrt_i16(x, y, n, m, shift):
    # elementwise.cc's RsqrtEvalQuantized<int16_t> (zero points 0); TFLM's Eval fails on a negative
    # input, so does this. 1 / sqrt(v) with 20 more bits, then rescaled by 2**-20 less (kShift).
    for k in range(n):
        v = x[k]
        if v < 0:
            raise ValueError("Rsqrt is only defined for positive values")
        if v == 0:
            y[k] = 32767
            continue
        inv, inv_shift = _lf_inv_sqrt(v)
        out = _lf_mbqm(_lf_mbqm(1, inv, inv_shift + 20), m, shift - 20)
        y[k] = -32768 if out < -32768 else 32767 if out > 32767 else out


def l2_norm_i8(x, y, rows, depth, zp):
    for row in range(rows):
        base = row * depth
        acc = 0
        for c in range(depth):
            d = ((x[base + c] ^ 128) - 128) - zp
            acc += d * d
        m, s = _lf_inv_sqrt(acc)
        for c in range(depth):
            out = _lf_mbqm(((x[base + c] ^ 128) - 128) - zp, m, s + 7)
            y[base + c] = 128 if out < -128 else 127 if out > 127 else out & 255


def row_f(x, y, rows, depth, kind):
    # LOG_SOFTMAX ("log_softmax") or L2_NORMALIZATION of each row, in TFLM's order
    for row in range(rows):
        base = row * depth
        if kind == "log_softmax":
            top = x[base]
            for c in range(depth):
                top = x[base + c] if x[base + c] > top else top
            total = 0.0
            for c in range(depth):
                total += math.exp(x[base + c] - top)
            log_sum = math.log(total)
            for c in range(depth):
                y[base + c] = x[base + c] - top - log_sum
        else:
            total = 0.0
            for c in range(depth):
                total += x[base + c] * x[base + c]
            norm = math.sqrt(total)
            norm = norm if norm > 1e-6 else 1e-6
            for c in range(depth):
                y[base + c] = x[base + c] / norm


def resize_bilinear(x, y, depth, corners, weights, integer):
    # per output pixel four source offsets and weights; int8: ResizeBilinearInteger's rounding
    o = 0
    for k in range(0, len(corners), 4):
        a, b, c, d = corners[k], corners[k + 1], corners[k + 2], corners[k + 3]
        wa, wb, wc, wd = weights[k], weights[k + 1], weights[k + 2], weights[k + 3]
        for i in range(depth):
            if integer:
                v = (((x[a + i] ^ 128) - 128) * wa + ((x[b + i] ^ 128) - 128) * wb + ((x[c + i] ^ 128) - 128) * wc
                     + ((x[d + i] ^ 128) - 128) * wd)
                v = v + 524288 if v > 0 else v - 524288
                y[o] = (v >> 20 if v >= 0 else -((-v) >> 20)) & 255
            else:
                y[o] = x[a + i] * wa + x[b + i] * wb + x[c + i] * wc + x[d + i] * wd
            o += 1


def _lf_rescale(acc, m, s, zp):
    out = _lf_mbqm(acc, m, s) + zp
    return 128 if out < -128 else 127 if out > 127 else out & 255


def add_n(xs, y, n, table, start, m, s, zp):
    # table None: float32, summed in order from 0
    for i in range(n):
        if table is None:
            acc = 0.0
            for x in xs:
                acc += x[i]
            y[i] = acc
        else:
            acc = start
            for x in xs:
                acc += table[x[i] ^ 128]
            y[i] = _lf_rescale(acc, m, s, zp)


def cumsum(x, y, shape, flags, table, start, m, s, zp):
    # shape (before, length, after), flags (exclusive, reverse); cumsum.h's order
    before, length, after = shape
    exclusive, reverse = flags
    for o in range(after):
        oa = after - 1 - o if reverse else o
        for j in range(before):
            ja = before - 1 - j if reverse else j
            acc = 0.0 if table is None else start
            for d in range(length):
                da = length - 1 - d if reverse else d
                i = oa + ja * length * after + da * after
                v = x[i] if table is None else table[x[i] ^ 128]
                if exclusive:
                    out = acc
                    acc += v
                else:
                    acc += v
                    out = acc
                y[i] = out if table is None else _lf_rescale(out, m, s, zp)


def div_i8(x1, i1, x2, i2, y, n, p):
    # p: input1 offset, input2 offset, output multiplier, shift, zero point, clamp low, high
    off1, off2, m, shift, zp, low, high = p
    for k in range(n):
        a = ((x1[k if i1 is None else i1[k]] ^ 128) - 128) + off1
        d = ((x2[k if i2 is None else i2[k]] ^ 128) - 128) + off2
        if d < 0:
            a = -a
            d = -d
        # GetReciprocal(d, 31): clz(0) is 32 and the shifted value 0 (x86's shift by 32 is by 0)
        head = _lf_clz(d)
        inv = _lf_one_over_one_plus_x(_lf_wrap(((d << head) & 0xFFFFFFFF) - 2147483648))
        # CountLeadingSignBits(a)
        room = 31 if a == 0 else _lf_clz(a) - 1 if a > 0 else _lf_clz(~a) - 1
        q = _lf_srdhm(_lf_wrap(a << room), inv)
        e = room + (31 - head) - shift
        v = _lf_srdhm(q, m)
        # a divide by 2**32 or more (a tiny dividend): TFLM's shift of an int32 by e is by e % 32 on
        # the host, its mask all ones
        out = (_lf_rdbp(v, e) if e < 32 else (v >> (e & 31)) + (1 if v >= 0 else 0)) + zp
        y[k] = (low if out < low else high if out > high else out) & 255


def svdf(x, y, shape, state, wf, wt, bias, p):
    # shape (n_input, filters, rank, memory); p: (act_min, act_max) for float32, else (input zero
    # point, state zero point, multiplier and shift 1, 2, output zero point, 1 for an int8 state)
    n_input, filters, rank, memory = shape
    integer = len(p) > 2
    for i in range(filters * memory - 1):
        state[i] = state[i + 1]
    for f in range(filters):
        acc = 0 if integer else 0.0
        for k in range(n_input):
            if integer:
                acc += ((wf[f * n_input + k] ^ 128) - 128) * (((x[k] ^ 128) - 128) - p[0])
            else:
                acc += wf[f * n_input + k] * x[k]
        if integer:
            acc = _lf_mbqm(acc, p[2], p[3])
            top = 127 if p[7] else 32767
            acc = p[1] + (-top - 1 if acc < -top - 1 else top if acc > top else acc)
            acc = acc & 255 if p[7] else acc
        state[f * memory + memory - 1] = acc
    for u in range(filters // rank):
        total = bias[u]
        for f in range(u * rank, u * rank + rank):
            part = 0 if integer else 0.0
            for m in range(memory):
                w = wt[f * memory + m]
                s = state[f * memory + m]
                if integer:
                    if p[7]:
                        w = (w ^ 128) - 128
                        s = (s ^ 128) - 128
                    part += w * (s - p[1])
                else:
                    part += w * s
            total += part
        if integer:
            out = _lf_mbqm(total, p[4], p[5]) + p[6]
            y[u] = (-128 if out < -128 else 127 if out > 127 else out) & 255
        else:
            y[u] = p[0] if total < p[0] else p[1] if total > p[1] else total
