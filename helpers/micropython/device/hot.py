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


def max_pool_2d_i8(x, y, p, low: int, high: int):
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


def bmm_row(j: int, k: int, s: int, lhs, rhs, acc, p, row: int, batch: int, lhs_offset: int, rhs_offset: int):
    # One output row of BATCH_MATMUL int8: acc[j] = sum over k of (lhs[row, k] + lhs_offset) *
    # (rhs[k, j] + rhs_offset), both read through the strides in p (ops_matmul.py's layout).
    pp = ptr32(p)
    lp = ptr8(lhs)
    rp = ptr8(rhs)
    ap = ptr32(acc)
    cols = pp[1]
    depth = pp[2]
    lsk = pp[4]
    rsk = pp[5]
    rsj = pp[6]
    lb = pp[8 + 2 * batch] + row * pp[3]
    rb = pp[9 + 2 * batch]
    lo = lhs_offset - 128
    ro = rhs_offset - 128
    j = 0
    while j < cols:
        s = 0
        k = 0
        li = lb
        ri = rb + j * rsj
        while k < depth:
            s += ((lp[li] ^ 128) + lo) * ((rp[ri] ^ 128) + ro)
            li += lsk
            ri += rsk
            k += 1
        ap[j] = s
        j += 1


def scale_acc(x: int, v: int, k: int, acc, count: int, channels: int, bias, limbs, shift, with_bias: int,
              per_channel: int, out16, mode: int, clip: int):
    # (acc + the channel's bias when with_bias) times the channel's multiplier (the one multiplier
    # unless per_channel; channels cycle with the element), rounded as TFLM's
    # MultiplyByQuantizedMultiplier: the high half of the doubled 64-bit product, then a rounding
    # shift. mode 0 writes the results back into acc; 1 writes them saturated to int16 into out16
    # (array('h')); 2 adds them, saturated, to out16's values, saturates the sum and clamps it to
    # +-clip when clip > 0 (an LSTM gate's two halves, its cell update).
    # The multiplier comes as three 14-bit limbs and the value is split the same way, so every
    # partial product and carry stays within 30 bits: no big int on a 32-bit port, in viper or in
    # plain code. x, v, k: see fc_acc.
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
