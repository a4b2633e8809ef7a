# The element-wise hot loops: softmax's limb arithmetic, the LSTM's int16 steps, the operands of
# ADD, SUB, MUL and requantization, lookups and gathers. Compiled with hot.py, under its rules
# (viper's subset, no big int, SIGN_UNIT); every function's first parameters are its inner loop's
# variables, passed as 0 (see hot.py's fc_acc).


def hi30(p: int, q: int, kh: int, kl: int) -> int:
    # (p * q + kh * 2**15 + kl) >> 30 for 0 <= p, q < 2**30, kh <= 2**15, kl < 2**15, in 15-bit
    # limbs: every partial product and sum stays below 2**30, a small int on a 32-bit port.
    p1 = p >> 15
    p0 = p & 32767
    q1 = q >> 15
    q0 = q & 32767
    lo = p0 * q0 + kl
    mid = p1 * q0 + (lo >> 15)
    cross = p0 * q1
    return p1 * q1 + (mid >> 15) + (cross >> 15) + (((mid & 32767) + (cross & 32767) + kh) >> 15)


def softmax_sum(x, base: int, depth: int, rescaled, r):
    # The row's largest input (r[0]) and its sum of exp(x - max) in Q12.19 (r[1]).
    xp = ptr8(x)
    tp = ptr32(rescaled)
    rp = ptr32(r)
    top = -128
    for c in range(depth):
        v = ((xp[base + c]) ^ 128) - 128
        if v > top:
            top = v
    total = 0
    for c in range(depth):
        total += tp[top - (((xp[base + c]) ^ 128) - 128)]
    rp[0] = top
    rp[1] = total


def softmax_scale(r):
    # gemmlowp's GetReciprocal(total = r[1], 12 integer digits) as TFLM's softmax takes it: the
    # Q0.31 scale as 11-bit limbs (r[2:5]) and the shift softmax_out applies (bits over unit + 23 -
    # 14, r[5]). Every value stays below 2**30: total << (30 - its bit length) = u is the half
    # denominator over two, so each SaturatingRoundingDoublingHighMul by it is hi30(u, b, ...), and
    # Newton's x (Q2.29) stays below 2**30 -- except for u = 2**29 (a total that is a power of
    # two), whose reciprocal saturates to the largest Q0.31. The corrections never saturate
    # (|srdhm| < 2**24). Checked with numpy over every u once; tests/unit/test_micropython_limbs.py samples it.
    rp = ptr32(r)
    total = rp[1]
    bits = 0
    while total >> bits:
        bits += 1
    u = total << (30 - bits)
    rp[5] = 12 - (32 - bits) + 23 - 14
    if u == 536870912:
        rp[2] = 2047
        rp[3] = 2047
        rp[4] = 511
        return
    # x = 48 / 17 - 32 / 17 * half_denominator: 1515870810 - srdhm(2u, 1010580540), in steps
    # below 2**30.
    x = 442128986 - int(hi30(u, 1010580540, 16383, 32767)) + 1073741823 + 1
    for _ in range(3):
        one_minus = 536870912 - int(hi30(u, x, 16384, 0))
        if one_minus >= 0:
            correction = int(hi30(x, one_minus, 32768, 0)) >> 1
        else:
            correction = 0 - (int(hi30(x, 0 - one_minus, 32767, 32767)) >> 1)
        x += correction * 4
    rp[2] = (x & 1023) << 1
    rp[3] = (x >> 10) & 2047
    rp[4] = x >> 21


def softmax_out(x, y, base: int, depth: int, exp_limbs, r):
    # Each output: RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(scale, exp), e) - 128, for a
    # scale and an exp below 2**31 given as 11-bit limbs (the scale's in r[2:5], the table's three
    # per entry). The columns of scale * exp carry into floor((scale * exp + 2**30) / 2**44), then
    # shift = e - 14 (r[5]) gives floor(srdhm / 2**(e - 1)); e >= 23, so one more halving rounds.
    sign = SIGN_UNIT
    sign = sign << 31
    xp = ptr8(x)
    yp = ptr8(y)
    lp = ptr16(exp_limbs)
    rp = ptr32(r)
    top = (rp[0] ^ sign) - sign
    s0 = rp[2]
    s1 = rp[3]
    s2 = rp[4]
    shift = rp[5]
    for c in range(depth):
        d = 3 * (top - (((xp[base + c]) ^ 128) - 128))
        e0 = lp[d]
        e1 = lp[d + 1]
        e2 = lp[d + 2]
        k = (s0 * e0) >> 11
        k = (s0 * e1 + s1 * e0 + k) >> 11
        k = (s0 * e2 + s1 * e1 + s2 * e0 + 256 + k) >> 11
        k = (s1 * e2 + s2 * e1 + k) >> 11
        v = ((((s2 * e2 + k) >> shift) + 1) >> 1) - 128
        if v > 127:
            v = 127
        yp[base + c] = v & 255


def activate16(v: int, a: int, r: int, src, dst, n: int, table, sigmoid: int, mult: int, shift: int):
    # v, a, r: see fc_acc.
    # TFLM's int16 Logistic (Q3.12 in, Q0.15 out) or Tanh (input brought to Q3.12 by mult and shift),
    # interpolating its 256-entry table (array('H')), element by element from src to dst.
    half = SIGN_UNIT
    half = half << 15
    sp = ptr16(src)
    dp = ptr16(dst)
    tp = ptr16(table)
    for k in range(n):
        v = (sp[k] ^ half) - half
        if sigmoid:
            v = v * 3
            a = v
            if a < 0:
                a = 0 - a
            uh = a >> 9
            if uh >= 255:
                r = 32767 << 10
            else:
                ua = tp[uh]
                r = (ua << 9) + (a & 511) * (tp[uh + 1] - ua)
            if v >= 0:
                r = r + 512
            else:
                r = (1 << 25) - r + 511
            dp[k] = r >> 10
        else:
            if shift > 0:
                v = (v * mult + (1 << (shift - 1))) >> shift
            else:
                v = v * mult
            a = v
            if a < 0:
                a = 0 - a
            uh = a >> 8
            if uh >= 255:
                r = 65535 << 8
            else:
                ua = tp[uh]
                r = (ua << 8) + (a & 255) * (tp[uh + 1] - ua)
            if v >= 0:
                r = r - (1 << 23) + 128
            else:
                r = (1 << 23) - r + 127
            dp[k] = r >> 8


def products16(k: int, a, b, acc, n: int):
    # acc = a * b, element by element, for int16 a and b. k: see fc_acc.
    half = SIGN_UNIT
    half = half << 15
    ap = ptr16(a)
    bp = ptr16(b)
    cp = ptr32(acc)
    for k in range(n):
        cp[k] = ((ap[k] ^ half) - half) * ((bp[k] ^ half) - half)


def widen_i8(v: int, j: int, k: int, x, index, use_index: int, start: int, count: int, offset: int, shift: int,
             acc, multiply: int):
    # acc[j] = (x[start + j] + offset) << shift for j < count (x[index[start + j]] with use_index:
    # a broadcast), or that times acc[j] with multiply: the operands of ADD, SUB, MUL and
    # requantization, a chunk at a time. v, j, k: see fc_acc.
    sign = SIGN_UNIT
    sign = sign << 31
    xp = ptr8(x)
    ip = ptr32(index)
    ap = ptr32(acc)
    j = 0
    k = start
    while j < count:
        src = k
        if use_index:
            src = ip[k]
        v = ((xp[src] ^ 128) - 128 + offset) << shift
        if multiply:
            v = v * ((ap[j] ^ sign) - sign)
        ap[j] = v
        j += 1
        k += 1


def add_scaled(j: int, a, b, count: int, sign: int):
    # a[j] += sign * b[j]: ADD (sign 1) and SUB (-1) of the rescaled operands. j: see fc_acc.
    unit = SIGN_UNIT
    unit = unit << 31
    ap = ptr32(a)
    bp = ptr32(b)
    j = 0
    while j < count:
        ap[j] = ((ap[j] ^ unit) - unit) + sign * ((bp[j] ^ unit) - unit)
        j += 1


def lookup_i8(x, y, n: int, table):
    # LOGISTIC, TANH, ... on int8: y[i] = table[x[i]], the 256 outputs TFLM gives, tabulated at export.
    xp = ptr8(x)
    yp = ptr8(y)
    tp = ptr8(table)
    i = 0
    while i < n:
        yp[i] = tp[xp[i]]
        i += 1


def lookup_channels_i8(x, y, n: int, channels: int, tables):
    # PRELU on int8: a table per channel of the last axis, tabulated by TFLM's kernel at export.
    xp = ptr8(x)
    yp = ptr8(y)
    tp = ptr8(tables)
    i = 0
    c = 0
    while i < n:
        yp[i] = tp[(c << 8) + xp[i]]
        i += 1
        c += 1
        if c == channels:
            c = 0


def reduce_i8(x, y, groups, count: int, outputs: int, maximum: int):
    # REDUCE_MAX / REDUCE_MIN on int8: the raw values compared, groups flat (int32) as MEAN's.
    xp = ptr8(x)
    yp = ptr8(y)
    gp = ptr32(groups)
    o = 0
    while o < outputs:
        base = o * count
        best = (xp[gp[base]] ^ 128) - 128
        k = 1
        while k < count:
            v = (xp[gp[base + k]] ^ 128) - 128
            if maximum:
                if v > best:
                    best = v
            elif v < best:
                best = v
            k += 1
        yp[o] = best & 255
        o += 1


def gather_i8(x, y, index, pad: int):
    # gather.py's gather on int8 tensors: y[i] = x[index[i]], or pad where the index is negative.
    n = int(len(index))
    sign = SIGN_UNIT
    sign = sign << 31
    xp = ptr8(x)
    yp = ptr8(y)
    ip = ptr32(index)
    i = 0
    while i < n:
        k = (ip[i] ^ sign) - sign
        if k >= 0:
            yp[i] = xp[k]
        else:
            yp[i] = pad
        i += 1


def square_acc(j: int, a, count: int):
    # a[j] = a[j] * a[j]: SQUARED_DIFFERENCE's difference squared, at most 32640 ** 2 (under 2 ** 30,
    # a small int even in plain code on a 32-bit port). j: see fc_acc.
    unit = SIGN_UNIT
    unit = unit << 31
    ap = ptr32(a)
    j = 0
    while j < count:
        v = (ap[j] ^ unit) - unit
        ap[j] = v * v
        j += 1


def gather_runs_i8(c: int, k: int, o: int, x, y, index, run: int, pad: int):
    # movement.py's gather_runs on int8 tensors: runs of `run` bytes, one index each. c, k, o: see fc_acc.
    n = int(len(index))
    sign = SIGN_UNIT
    sign = sign << 31
    xp = ptr8(x)
    yp = ptr8(y)
    ip = ptr32(index)
    i = 0
    o = 0
    while i < n:
        k = (ip[i] ^ sign) - sign
        c = 0
        if k >= 0:
            while c < run:
                yp[o + c] = xp[k + c]
                c += 1
        else:
            while c < run:
                yp[o + c] = pad
                c += 1
        o += run
        i += 1


def compare_scaled(j: int, d: int, r: int, a, b, y, start: int, count: int, kind: int):
    # y[start + j] = 1 where a[j] compares to b[j] as `kind` says (compare_i8's), else 0.
    # j, d, r: see fc_acc.
    unit = SIGN_UNIT
    unit = unit << 31
    ap = ptr32(a)
    bp = ptr32(b)
    yp = ptr8(y)
    j = 0
    while j < count:
        d = ((ap[j] ^ unit) - unit) - ((bp[j] ^ unit) - unit)
        r = 0
        if kind == 0:
            if d == 0:
                r = 1
        elif kind == 1:
            if d != 0:
                r = 1
        elif kind == 2:
            if d > 0:
                r = 1
        elif kind == 3:
            if d >= 0:
                r = 1
        elif kind == 4:
            if d < 0:
                r = 1
        elif d <= 0:
            r = 1
        yp[start + j] = r
        j += 1
