# The inner loops, where nearly all the time goes. The generated module compiles this text with
# @micropython.viper where the port has the viper emitter, else as plain code (the WebAssembly
# port has no native emitters). It therefore keeps to viper's subset: ptr8/ptr32 casts, machine
# ints, no big ints, no calls. int8 values sit in bytearrays as raw bytes; (b ^ 128) - 128 signs
# them. Accumulators go to an array('i'): int32, as in TFLM, so they never overflow a machine int.


def fc_acc(x, x_start: int, x_offset: int, w, acc, n_in: int, n_out: int):
    xp = ptr8(x)
    wp = ptr8(w)
    ap = ptr32(acc)
    row = 0
    for o in range(n_out):
        s = 0
        for i in range(n_in):
            s += (((xp[x_start + i]) ^ 128) - 128 + x_offset) * ((wp[row + i] ^ 128) - 128)
        ap[o] = s
        row += n_in


def conv_row(x, w, acc, p, oy: int, x_offset: int):
    # p: in_h, in_w, in_c, out_w, out_c, k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left
    xp = ptr8(x)
    wp = ptr8(w)
    ap = ptr32(acc)
    pp = ptr32(p)
    in_h = pp[0]
    in_w = pp[1]
    in_c = pp[2]
    out_w = pp[3]
    out_c = pp[4]
    k_h = pp[5]
    k_w = pp[6]
    a = 0
    y0 = oy * pp[7] - pp[11]
    for ox in range(out_w):
        x0 = ox * pp[8] - pp[12]
        for oc in range(out_c):
            s = 0
            for ky in range(k_h):
                iy = y0 + ky * pp[9]
                if iy < 0 or iy >= in_h:
                    continue
                for kx in range(k_w):
                    ix = x0 + kx * pp[10]
                    if ix < 0 or ix >= in_w:
                        continue
                    xb = (iy * in_w + ix) * in_c
                    wb = ((oc * k_h + ky) * k_w + kx) * in_c
                    for ic in range(in_c):
                        s += (((xp[xb + ic]) ^ 128) - 128 + x_offset) * ((wp[wb + ic] ^ 128) - 128)
            ap[a] = s
            a += 1


def dw_row(x, w, acc, p, oy: int, x_offset: int):
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
    out_c = in_c * mult
    a = 0
    y0 = oy * pp[7] - pp[11]
    for ox in range(out_w):
        x0 = ox * pp[8] - pp[12]
        for ic in range(in_c):
            for m in range(mult):
                oc = ic * mult + m
                s = 0
                for ky in range(k_h):
                    iy = y0 + ky * pp[9]
                    if iy < 0 or iy >= in_h:
                        continue
                    for kx in range(k_w):
                        ix = x0 + kx * pp[10]
                        if ix < 0 or ix >= in_w:
                            continue
                        s += (((xp[(iy * in_w + ix) * in_c + ic]) ^ 128) - 128 + x_offset) * (
                            (wp[(ky * k_w + kx) * out_c + oc] ^ 128) - 128)
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


def requantize(acc, count: int, channels: int, bias, limbs, shift, y, y_start: int, zero_point: int, low: int,
               high: int):
    # acc + bias, times the channel's multiplier, rounded as TFLM's MultiplyByQuantizedMultiplier
    # (the high half of the doubled 64-bit product, then a rounding shift), plus the zero point,
    # clamped. The multiplier comes as three 14-bit limbs and the value is split the same way, so
    # every partial product and carry stays within 30 bits: no big int on a 32-bit port, in viper
    # or in plain code. A viper ptr32 load is unsigned on a 64-bit port: (v ^ sign) - sign with
    # sign = 1 << 31 sign-extends it there, and is v itself on a 32-bit port; in plain code the
    # loads are signed already and the module compiles SIGN_UNIT as 0. (Shifted at run time: the
    # compiler would fold a literal 1 << 31 into a big-int constant, which viper cannot mix in.)
    sign = SIGN_UNIT
    sign = sign << 31
    ap = ptr32(acc)
    bp = ptr32(bias)
    mp = ptr16(limbs)
    sp = ptr32(shift)
    yp = ptr8(y)
    c = 0
    for a in range(count):
        x = ((ap[a] ^ sign) - sign) + ((bp[c] ^ sign) - sign)
        s = (sp[c] ^ sign) - sign
        if s > 0:
            x = x << s
        neg = 0
        if x < 0:
            neg = 1
            x = 0 - x
        m0 = mp[3 * c]
        m1 = mp[3 * c + 1]
        m2 = mp[3 * c + 2]
        a0 = x & 16383
        a1 = (x >> 14) & 16383
        a2 = x >> 28
        # (|x| * m + nudge) >> 31, the nudge 2**30 (x >= 0) or 2**30 - 1 (x < 0), limb by limb
        k = (a0 * m0 + 16383 * neg) >> 14
        k = (a0 * m1 + a1 * m0 + 16383 * neg + k) >> 14
        d2 = a0 * m2 + a1 * m1 + a2 * m0 + 4 - neg + k
        d3 = a1 * m2 + a2 * m1 + (d2 >> 14)
        v = ((d2 & 16383) >> 3) + ((d3 & 16383) << 11) + ((a2 * m2 + (d3 >> 14)) << 25)
        if neg:
            v = 0 - v
        if s < 0:
            e = 0 - s
            mask = (1 << e) - 1
            threshold = mask >> 1
            if v < 0:
                threshold += 1
            rest = v & mask
            v = v >> e
            if rest > threshold:
                v += 1
        v += zero_point
        if v < low:
            v = low
        elif v > high:
            v = high
        yp[y_start + a] = v & 255
        c += 1
        if c == channels:
            c = 0
