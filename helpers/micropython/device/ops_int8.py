# int8 kernels with the arithmetic of TFLM's reference kernels that are not hot (hot_ops.py has
# the others). Tensors are bytearrays of raw int8; multipliers come as three 14-bit limbs
# (array('h')) and shifts as an array. Every value stays a small int on a 32-bit port: an int8 run
# allocates nothing (float conversions aside: MicroPython boxes floats).


def _i8(b):
    return (b ^ 128) - 128


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


def quantize_f_i8(x, y, n, scale, zero_point, low, high):
    # float -> int8: round(x / scale) in float32 (the one-element array rounds a double port's quotient).
    q32 = _F32
    for i in range(n):
        q32[0] = x[i] / scale
        v = q32[0]
        q = (int(v + 0.5) if v >= 0 else -int(-v + 0.5)) + zero_point
        y[i] = (low if q < low else high if q > high else q) & 255


def dequantize_i8(x, y, n, scale, zero_point):
    for i in range(n):
        y[i] = scale * (_i8(x[i]) - zero_point)
