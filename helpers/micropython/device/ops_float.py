# float32 kernels: array('f') tensors (each value rounded to float32 when stored, as in TFLM);
# a double-precision port sums in doubles, so results agree with TFLM to about 1e-6 relative.


def _clamp_f(v, low, high):
    return low if v < low else high if v > high else v


def fully_connected_f(x, y, w, bias, batches, n_in, n_out, low, high):
    for b in range(batches):
        xb = b * n_in
        for o in range(n_out):
            s = bias[o] if bias else 0.0
            wb = o * n_in
            for i in range(n_in):
                s += x[xb + i] * w[wb + i]
            y[b * n_out + o] = _clamp_f(s, low, high)


def conv_2d_f(x, y, w, bias, p, out_h, low, high):
    in_h, in_w, in_c, out_w, out_c, k_h, k_w, s_h, s_w, d_h, d_w, pad_t, pad_l = p
    o = 0
    for oy in range(out_h):
        for ox in range(out_w):
            for oc in range(out_c):
                s = bias[oc] if bias else 0.0
                for ky in range(k_h):
                    iy = oy * s_h - pad_t + ky * d_h
                    if iy < 0 or iy >= in_h:
                        continue
                    for kx in range(k_w):
                        ix = ox * s_w - pad_l + kx * d_w
                        if ix < 0 or ix >= in_w:
                            continue
                        xb = (iy * in_w + ix) * in_c
                        wb = ((oc * k_h + ky) * k_w + kx) * in_c
                        for ic in range(in_c):
                            s += x[xb + ic] * w[wb + ic]
                y[o] = _clamp_f(s, low, high)
                o += 1


def depthwise_conv_2d_f(x, y, w, bias, p, out_h, low, high):
    in_h, in_w, in_c, out_w, mult, k_h, k_w, s_h, s_w, d_h, d_w, pad_t, pad_l = p
    out_c = in_c * mult
    o = 0
    for oy in range(out_h):
        for ox in range(out_w):
            for oc in range(out_c):
                ic = oc // mult
                s = bias[oc] if bias else 0.0
                for ky in range(k_h):
                    iy = oy * s_h - pad_t + ky * d_h
                    if iy < 0 or iy >= in_h:
                        continue
                    for kx in range(k_w):
                        ix = ox * s_w - pad_l + kx * d_w
                        if 0 <= ix < in_w:
                            s += x[(iy * in_w + ix) * in_c + ic] * w[(ky * k_w + kx) * out_c + oc]
                y[o] = _clamp_f(s, low, high)
                o += 1


def pool_2d_f(x, y, p, average, low, high):
    in_h, in_w, channels, out_h, out_w, k_h, k_w, s_h, s_w, pad_t, pad_l = p
    o = 0
    for oy in range(out_h):
        y0 = oy * s_h - pad_t
        for ox in range(out_w):
            x0 = ox * s_w - pad_l
            for c in range(channels):
                total = 0.0
                best = -3.4e38
                count = 0
                for iy in range(max(0, y0), min(in_h, y0 + k_h)):
                    for ix in range(max(0, x0), min(in_w, x0 + k_w)):
                        v = x[(iy * in_w + ix) * channels + c]
                        total += v
                        if v > best:
                            best = v
                        count += 1
                y[o] = _clamp_f(total / count if average else best, low, high)
                o += 1


def softmax_f(x, y, rows, depth, beta):
    for r in range(rows):
        base = r * depth
        top = x[base]
        for c in range(1, depth):
            if x[base + c] > top:
                top = x[base + c]
        total = 0.0
        for c in range(depth):
            e = math.exp((x[base + c] - top) * beta)
            y[base + c] = e
            total += y[base + c]
        for c in range(depth):
            y[base + c] = y[base + c] / total


def logistic_f(x, y, n):
    for i in range(n):
        v = x[i]
        y[i] = 1.0 / (1.0 + math.exp(-v)) if v > -88.0 else 0.0


def tanh_f(x, y, n):
    for i in range(n):
        y[i] = math.tanh(x[i])


def add_f(x1, i1, x2, i2, y, n, low, high):
    for k in range(n):
        y[k] = _clamp_f(x1[i1[k] if i1 else k] + x2[i2[k] if i2 else k], low, high)


def sub_f(x1, i1, x2, i2, y, n, low, high):
    for k in range(n):
        y[k] = _clamp_f(x1[i1[k] if i1 else k] - x2[i2[k] if i2 else k], low, high)


def mul_f(x1, i1, x2, i2, y, n, low, high):
    for k in range(n):
        y[k] = _clamp_f(x1[i1[k] if i1 else k] * x2[i2[k] if i2 else k], low, high)


def mean_f(x, y, groups):
    # groups: for each output element, the input elements it averages (precomputed per axis set).
    for o in range(len(groups)):
        g = groups[o]
        s = 0.0
        for i in g:
            s += x[i]
        y[o] = s / len(g)
