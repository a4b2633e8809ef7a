# Binary ops without rescaling, broadcasting through the index maps (None: element k), with the
# arithmetic of TFLM's reference kernels: FLOOR_DIV floors the quotient, FLOOR_MOD moves fmod's
# remainder to the divisor's sign. Float tensors are array('f'), int16 array('h') (int8 MAXIMUM and
# MINIMUM are hot_ops.py's extremum_i8).
_INF = float("inf")


def div_f(x1, i1, x2, i2, y, n, low, high):
    for k in range(n):
        a = x1[i1[k] if i1 else k]
        b = x2[i2[k] if i2 else k]
        # a float division by zero gives +-inf (0/0: nan) in C; Python raises instead
        v = a / b if b != 0.0 else a * math.copysign(_INF, b)
        y[k] = low if v < low else high if v > high else v


def squared_difference_f(x1, i1, x2, i2, y, n):
    for k in range(n):
        d = x1[i1[k] if i1 else k] - x2[i2[k] if i2 else k]
        y[k] = d * d


def floor_div_f(x1, i1, x2, i2, y, n):
    # TFLM stops at a zero divisor ("Division by 0"); so does this (ZeroDivisionError). TFLM divides
    # in double: so does a double-precision port; a single-precision one (most boards) may floor a
    # quotient within a float32 rounding of an integer to the other side of that integer.
    for k in range(n):
        y[k] = math.floor(x1[i1[k] if i1 else k] / x2[i2[k] if i2 else k])


def floor_mod_f(x1, i1, x2, i2, y, n):
    for k in range(n):
        a = x1[i1[k] if i1 else k]
        b = x2[i2[k] if i2 else k]
        m = math.fmod(a, b)
        y[k] = m + b if m != 0.0 and (b < 0.0) != (m < 0.0) else m


def maximum(x1, i1, x2, i2, y, n):
    # float32 and int16 tensors (int16: the stored values, as TFLM compares them)
    for k in range(n):
        a = x1[i1[k] if i1 else k]
        b = x2[i2[k] if i2 else k]
        y[k] = a if a > b else b


def minimum(x1, i1, x2, i2, y, n):
    for k in range(n):
        a = x1[i1[k] if i1 else k]
        b = x2[i2[k] if i2 else k]
        y[k] = a if a < b else b

