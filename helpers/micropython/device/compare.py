# The ops that make or read bool and int32 tensors, as TFLM's reference kernels run them, in plain
# code (int8 comparisons are hot_ops.py's compare_i8). A bool tensor is a bytearray of 0 and 1, an
# int8 one raw bytes, int16 array('h'), int32 array('i'), float32 array('f'); index maps broadcast
# (None: element k).


def compare_f(x1, i1, x2, i2, y, n, kind):
    # kind 0 to 5: EQUAL, NOT_EQUAL, GREATER, GREATER_EQUAL, LESS, LESS_EQUAL of the stored values.
    for k in range(n):
        a = x1[i1[k] if i1 else k]
        b = x2[i2[k] if i2 else k]
        if kind == 0:
            r = a == b
        elif kind == 1:
            r = a != b
        elif kind == 2:
            r = a > b
        elif kind == 3:
            r = a >= b
        elif kind == 4:
            r = a < b
        else:
            r = a <= b
        y[k] = 1 if r else 0


def select(c, ic, x1, i1, x2, i2, y, n):
    # SELECT_V2: the stored values copied (int8 as raw bytes).
    for k in range(n):
        y[k] = x1[i1[k] if i1 else k] if c[ic[k] if ic else k] else x2[i2[k] if i2 else k]


def cast(x, y, n, signed8, target):
    # CAST as static_cast: signed8 reads raw int8 bytes as their values; target 0 stores int8
    # (the low byte), 1 int16 or int32, 2 float32. A float becomes an int truncated toward zero.
    for k in range(n):
        v = x[k]
        if signed8:
            v = (v ^ 128) - 128
        if target == 0:
            y[k] = int(v) & 255
        elif target == 1:
            y[k] = int(v)
        else:
            y[k] = float(v)


def arg_min_max(x, y, outer, axis, inner, maximum, signed8):
    # ARG_MAX (maximum) or ARG_MIN over the middle axis of [outer, axis, inner]: the first index of
    # the extremum, as arg_min_max.h scans it; int8 compared as stored (signed8: raw bytes).
    for o in range(outer):
        for i in range(inner):
            base = o * axis * inner + i
            best = x[base]
            if signed8:
                best = (best ^ 128) - 128
            index = 0
            for a in range(1, axis):
                v = x[base + a * inner]
                if signed8:
                    v = (v ^ 128) - 128
                if (v > best) if maximum else (v < best):
                    best = v
                    index = a
            y[o * inner + i] = index
