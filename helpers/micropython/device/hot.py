# The inner loops, where nearly all the time goes. The generated module compiles this text with
# @micropython.viper where the port has the viper emitter, else as plain code (the WebAssembly
# port has no native emitters). It therefore keeps to viper's subset: ptr8/ptr32 casts, machine
# ints, no big ints, no calls. int8 values sit in bytearrays as raw bytes; (b ^ 128) - 128 signs
# them. Accumulators go to an array('i'): int32, as in TFLM, so they never overflow a machine int.


def fc_acc(i: int, wi: int, s: int, x, x_start: int, x_offset: int, w, acc, n_in: int, n_out: int):
    # The first three parameters are the inner loop's variables, passed as 0: viper keeps a
    # function's first three locals in registers, which makes the loop about a quarter faster.
    xp = ptr8(x)
    wp = ptr8(w)
    ap = ptr32(acc)
    off = x_offset - 128
    end = x_start + n_in
    pairs = end - 1
    for o in range(n_out):
        s = 0
        i = x_start
        while i < pairs:  # two products an iteration: a fifth fewer instructions
            s += ((xp[i] ^ 128) + off) * ((wp[wi] ^ 128) - 128) + ((xp[i + 1] ^ 128) + off) * (
                (wp[wi + 1] ^ 128) - 128)
            i += 2
            wi += 2
        if i < end:
            s += ((xp[i] ^ 128) + off) * ((wp[wi] ^ 128) - 128)
            wi += 1
        ap[o] = s


def conv_row(j: int, wi: int, s: int, x, w, acc, col, p, oy: int, x_offset: int):
    # One output row: per output pixel the input window is copied into col (im2col; a tap in the
    # padding gets the input's zero point, whose offset term is 0, as TFLM skips it), then each
    # output channel is one contiguous dot product with its weights. j, wi, s: see fc_acc.
    # p: in_h, in_w, in_c, out_w, out_c, k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left
    xp = ptr8(x)
    wp = ptr8(w)
    ap = ptr32(acc)
    cp = ptr8(col)
    pp = ptr32(p)
    in_h = pp[0]
    in_w = pp[1]
    in_c = pp[2]
    out_w = pp[3]
    out_c = pp[4]
    k_h = pp[5]
    k_w = pp[6]
    dil_h = pp[9]
    dil_w = pp[10]
    kernel = k_h * k_w * in_c
    pairs = kernel - 1
    pad = (0 - x_offset) & 255
    off = x_offset - 128
    y0 = oy * pp[7] - pp[11]
    a = 0
    for ox in range(out_w):
        x0 = ox * pp[8] - pp[12]
        k = 0
        for ky in range(k_h):
            iy = y0 + ky * dil_h
            for kx in range(k_w):
                ix = x0 + kx * dil_w
                if iy < 0 or iy >= in_h or ix < 0 or ix >= in_w:
                    for ic in range(in_c):
                        cp[k] = pad
                        k += 1
                else:
                    xb = (iy * in_w + ix) * in_c
                    for ic in range(in_c):
                        cp[k] = xp[xb + ic]
                        k += 1
        wi = 0
        for oc in range(out_c):
            s = 0
            j = 0
            while j < pairs:  # as in fc_acc
                s += ((cp[j] ^ 128) + off) * ((wp[wi] ^ 128) - 128) + ((cp[j + 1] ^ 128) + off) * (
                    (wp[wi + 1] ^ 128) - 128)
                j += 2
                wi += 2
            if j < kernel:
                s += ((cp[j] ^ 128) + off) * ((wp[wi] ^ 128) - 128)
                wi += 1
            ap[a] = s
            a += 1


def dw_row(s: int, xi: int, wi: int, x, w, acc, p, oy: int, x_offset: int):
    # s, xi, wi: see fc_acc. The window's valid taps are found once per output pixel.
    # p: in_h, in_w, in_c, out_w, multiplier, k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left
    xp = ptr8(x)
    wp = ptr8(w)
    ap = ptr32(acc)
    pp = ptr32(p)
    in_h = pp[0]
    in_w = pp[1]
    in_c = pp[2]
    out_w = pp[3]
    mult = pp[4]
    k_h = pp[5]
    k_w = pp[6]
    dil_h = pp[9]
    dil_w = pp[10]
    out_c = in_c * mult
    off = x_offset - 128
    y0 = oy * pp[7] - pp[11]
    ky0 = 0
    while ky0 < k_h and y0 + ky0 * dil_h < 0:
        ky0 += 1
    ky1 = k_h
    while ky1 > ky0 and y0 + (ky1 - 1) * dil_h >= in_h:
        ky1 -= 1
    a = 0
    for ox in range(out_w):
        x0 = ox * pp[8] - pp[12]
        kx0 = 0
        while kx0 < k_w and x0 + kx0 * dil_w < 0:
            kx0 += 1
        kx1 = k_w
        while kx1 > kx0 and x0 + (kx1 - 1) * dil_w >= in_w:
            kx1 -= 1
        for ic in range(in_c):
            for m in range(mult):
                oc = ic * mult + m
                s = 0
                for ky in range(ky0, ky1):
                    xi = ((y0 + ky * dil_h) * in_w + x0 + kx0 * dil_w) * in_c + ic
                    wi = (ky * k_w + kx0) * out_c + oc
                    for kx in range(kx0, kx1):
                        s += ((xp[xi] ^ 128) + off) * ((wp[wi] ^ 128) - 128)
                        xi += dil_w * in_c
                        wi += out_c
                ap[a] = s
                a += 1


def max_pool_i8(x, y, p, low: int, high: int):
    # p: in_h, in_w, channels, out_h, out_w, k_h, k_w, stride_h, stride_w, pad_top, pad_left
    xp = ptr8(x)
    yp = ptr8(y)
    pp = ptr32(p)
    in_h = pp[0]
    in_w = pp[1]
    c_n = pp[2]
    o = 0
    for oy in range(pp[3]):
        y0 = oy * pp[7] - pp[9]
        for ox in range(pp[4]):
            x0 = ox * pp[8] - pp[10]
            for c in range(c_n):
                best = -1000
                for ky in range(pp[5]):
                    iy = y0 + ky
                    if iy < 0 or iy >= in_h:
                        continue
                    for kx in range(pp[6]):
                        ix = x0 + kx
                        if ix < 0 or ix >= in_w:
                            continue
                        v = ((xp[(iy * in_w + ix) * c_n + c]) ^ 128) - 128
                        if v > best:
                            best = v
                if best < low:
                    best = low
                if best > high:
                    best = high
                yp[o] = best & 255
                o += 1


def scale_acc(x: int, v: int, k: int, acc, count: int, channels: int, bias, limbs, shift, with_bias: int,
              per_channel: int, out16, mode: int, clip: int):
    # (acc + the channel's bias when with_bias) times the channel's multiplier (the one multiplier
    # unless per_channel; channels cycle with the element), rounded as TFLM's
    # MultiplyByQuantizedMultiplier: the high half of the doubled 64-bit product, then a rounding
    # shift. mode 0 writes the results back into acc; 1 writes them saturated to int16 into out16
    # (array('h')); 2 adds them, saturated, to out16's values, saturates the sum and clamps it to
    # +-clip when clip > 0 (an LSTM gate's two halves, its cell update). The multiplier comes as three 14-bit limbs and the value is split the same way, so
    # every partial product and carry stays within 30 bits: no big int on a 32-bit port, in viper
    # or in plain code. x, v, k: see fc_acc.
    # A viper ptr32 load is unsigned on a 64-bit port: (v ^ sign) - sign with sign = 1 << 31
    # sign-extends it there, and is v itself on a 32-bit port; in plain code the loads are signed
    # already and the module compiles SIGN_UNIT as 0. (Shifted at run time: the compiler would fold
    # a literal 1 << 31 into a big-int constant, which viper cannot mix in.)
    sign = SIGN_UNIT
    half16 = sign << 15
    sign = sign << 31
    ap = ptr32(acc)
    bp = ptr32(bias)
    mp = ptr16(limbs)
    sp = ptr32(shift)
    op = ptr16(out16)
    c = 0
    s = 0
    m0 = 0
    m1 = 0
    m2 = 0
    left = 0
    e = 0
    mask = 0
    half = 0
    per_value = 1
    for a in range(count):
        x = (ap[a] ^ sign) - sign
        if with_bias:
            x += (bp[c] ^ sign) - sign
        if per_value:
            # the multiplier's limbs and its shift, split into a left shift and a rounding right one
            q = 3 * c
            m0 = mp[q]
            m1 = mp[q + 1]
            m2 = mp[q + 2]
            s = (sp[c] ^ sign) - sign
            left = 0
            e = 0
            if s > 0:
                left = s
            else:
                e = 0 - s
            mask = (1 << e) - 1
            half = mask >> 1
            per_value = per_channel
        x = x << left
        neg = 0
        if x < 0:
            neg = 1
            x = 0 - x
        a0 = x & 16383
        a1 = (x >> 14) & 16383
        a2 = x >> 28
        # (|x| * m + nudge) >> 31, the nudge 2**30 (x >= 0) or 2**30 - 1 (x < 0), limb by limb
        k = (a0 * m0 + 16383 * neg) >> 14
        k = (a0 * m1 + a1 * m0 + 16383 * neg + k) >> 14
        k = a0 * m2 + a1 * m1 + a2 * m0 + 4 - neg + k
        v = a1 * m2 + a2 * m1 + (k >> 14)
        v = ((k & 16383) >> 3) + ((v & 16383) << 11) + ((a2 * m2 + (v >> 14)) << 25)
        if neg:
            v = 0 - v
        # RoundingDivideByPOT: half away from zero
        k = v & mask
        v = v >> e
        if k > half + neg:
            v += 1
        if mode == 0:
            ap[a] = v
        else:
            if v < -32768:
                v = -32768
            elif v > 32767:
                v = 32767
            if mode == 2:
                v += (op[a] ^ half16) - half16
                if v < -32768:
                    v = -32768
                elif v > 32767:
                    v = 32767
                if clip > 0:
                    if v < 0 - clip:
                        v = 0 - clip
                    elif v > clip:
                        v = clip
            op[a] = v
        c += 1
        if c == channels:
            c = 0


def store_i8(v: int, a: int, i: int, acc, count: int, y, y_start: int, zero_point: int, low: int, high: int):
    # acc + the zero point, clamped, as int8 bytes. v, a, i: see fc_acc.
    sign = SIGN_UNIT
    sign = sign << 31
    ap = ptr32(acc)
    yp = ptr8(y)
    i = y_start
    a = 0
    while a < count:
        v = ((ap[a] ^ sign) - sign) + zero_point
        if v < low:
            v = low
        elif v > high:
            v = high
        yp[i] = v & 255
        a += 1
        i += 1


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
