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


def softmax_out(x, y, base: int, depth: int, exp_limbs, top: int, s0: int, s1: int, s2: int, shift: int):
    # Each output: RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(scale, exp), e) - 128, for a
    # scale and an exp below 2**31 given as 11-bit limbs (s0, s1, s2; the table three per entry).
    # The columns of scale * exp carry into floor((scale * exp + 2**30) / 2**44), then
    # shift = e - 14 gives floor(srdhm / 2**(e - 1)); e >= 23, so one more halving rounds.
    xp = ptr8(x)
    yp = ptr8(y)
    lp = ptr16(exp_limbs)
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


def lookup_i8(i: int, x, y, n: int, table):
    # y[i] = table[x[i]]: an element-wise op of one int8 input as the 256 outputs TFLM gives. i: see
    # fc_acc.
    xp = ptr8(x)
    yp = ptr8(y)
    tp = ptr8(table)
    i = 0
    while i < n:
        yp[i] = tp[xp[i]]
        i += 1


def gather_i8(i: int, x, y, index, n: int, pad: int):
    # y[i] = x[index[i]], or pad where the index is negative: int8 data movement. i: see fc_acc.
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
