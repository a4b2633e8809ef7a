# float32 kernels pasted function by function: only those an engine calls go into it
# (emit/micropython.py). The elementwise ops with one input take (x, y, n, alpha) and are TFLM's
# reference expressions.


def relu_f(x, y, n, alpha):
    for i in range(n):
        v = x[i]
        y[i] = v if v > 0.0 else 0.0


def relu6_f(x, y, n, alpha):
    for i in range(n):
        v = x[i]
        y[i] = 0.0 if v < 0.0 else 6.0 if v > 6.0 else v


def relu_n1_to_1_f(x, y, n, alpha):
    for i in range(n):
        v = x[i]
        y[i] = -1.0 if v < -1.0 else 1.0 if v > 1.0 else v


def relu_0_to_1_f(x, y, n, alpha):
    for i in range(n):
        v = x[i]
        y[i] = 0.0 if v < 0.0 else 1.0 if v > 1.0 else v


def leaky_relu_f(x, y, n, alpha):
    for i in range(n):
        v = x[i]
        y[i] = v if v > 0.0 else v * alpha


def hard_swish_f(x, y, n, alpha):
    for i in range(n):
        v = x[i]
        y[i] = v * min(6.0, max(0.0, v + 3.0)) / 6.0


def elu_f(x, y, n, alpha):
    # expm1 keeps its precision near 0 where exp(v) - 1 loses it; a port without it has exp only
    expm1 = getattr(math, "expm1", None)
    for i in range(n):
        v = x[i]
        y[i] = v if v >= 0.0 else expm1(v) if expm1 else math.exp(v) - 1.0


def exp_f(x, y, n, alpha):
    for i in range(n):
        y[i] = math.exp(x[i])


def log_f(x, y, n, alpha):
    # TFLM's log of 0 is -inf and of a negative NaN; math.log raises instead
    _INF, _NAN = float("inf"), float("nan")
    for i in range(n):
        v = x[i]
        y[i] = math.log(v) if v > 0.0 else -_INF if v == 0.0 else _NAN


def sqrt_f(x, y, n, alpha):
    _NAN = float("nan")
    for i in range(n):
        v = x[i]
        y[i] = math.sqrt(v) if v >= 0.0 else _NAN


def rsqrt_f(x, y, n, alpha):
    _INF, _NAN = float("inf"), float("nan")
    for i in range(n):
        v = x[i]
        y[i] = 1.0 / math.sqrt(v) if v > 0.0 else _INF if v == 0.0 else _NAN


def square_f(x, y, n, alpha):
    for i in range(n):
        v = x[i]
        y[i] = v * v


def abs_f(x, y, n, alpha):
    for i in range(n):
        v = x[i]
        y[i] = -v if v < 0.0 else v


def neg_f(x, y, n, alpha):
    for i in range(n):
        y[i] = -x[i]


def floor_f(x, y, n, alpha):
    for i in range(n):
        y[i] = math.floor(x[i])


def ceil_f(x, y, n, alpha):
    for i in range(n):
        y[i] = math.ceil(x[i])


def round_f(x, y, n, alpha):
    # half to even, as TFLM's RoundToNearest
    for i in range(n):
        v = x[i]
        below = math.floor(v)
        diff = v - below
        y[i] = below if diff < 0.5 or (diff == 0.5 and below % 2 == 0) else below + 1


def sin_f(x, y, n, alpha):
    for i in range(n):
        y[i] = math.sin(x[i])


def cos_f(x, y, n, alpha):
    for i in range(n):
        y[i] = math.cos(x[i])


def prelu_f(x, y, n, alpha):
    # alpha: one value per channel of the last axis
    channels = len(alpha)
    for i in range(n):
        v = x[i]
        y[i] = v if v >= 0.0 else v * alpha[i % channels]


def batch_matmul_f(lhs, rhs, y, p):
    # p: ops_matmul.py's layout (M, N, K, four strides, batches, two bases per batch)
    rows, cols, depth, lsi, lsk, rsk, rsj = p[0], p[1], p[2], p[3], p[4], p[5], p[6]
    for b in range(p[7]):
        lb, rb = p[8 + 2 * b], p[9 + 2 * b]
        for i in range(rows):
            for j in range(cols):
                total = 0.0
                for k in range(depth):
                    total += lhs[lb + i * lsi + k * lsk] * rhs[rb + k * rsk + j * rsj]
                y[(b * rows + i) * cols + j] = total


def reduce_f(x, y, groups, kind):
    # SUM ("sum", in the input's order), REDUCE_MAX ("max"), REDUCE_MIN ("min") of each group
    for o in range(len(groups)):
        g = groups[o]
        acc = 0.0 if kind == "sum" else x[g[0]]
        for i in g:
            v = x[i]
            acc = acc + v if kind == "sum" else v if (v > acc if kind == "max" else v < acc) else acc
        y[o] = acc
