# UNIDIRECTIONAL_SEQUENCE_LSTM as TFLM evaluates it (micro/kernels/lstm_eval.h): per time step the
# forget, input and cell gates, the cell update, the output gate and the hidden state; int8
# activations with an int16 cell state, or float32 throughout. `hidden` and `cell` are the
# model's variable tensors: reset() zeroes them (the hidden state to its zero point).


def _sat16(v):
    return -32768 if v < -32768 else 32767 if v > 32767 else v


def _sigmoid16(v):
    # reference_integer_ops::Logistic on int16 (Q3.12 in, Q0.15 out), interpolating TFLM's table.
    v = v * 3
    a = -v if v < 0 else v
    uh = a >> 9
    if uh >= 255:
        r = 0x7FFF << 10
    else:
        ua = _SIGMOID16[uh]
        r = (ua << 9) + (a & 0x1FF) * (_SIGMOID16[uh + 1] - ua)
    r = r + 512 if v >= 0 else (1 << 25) - r + 511
    return r >> 10


def _tanh16(v, mult, shift):
    # reference_integer_ops::Tanh on int16; mult and shift bring the input to Q3.12 (TFLM's rule).
    v = (v * mult + ((1 << (shift - 1)) if shift > 0 else 0)) >> shift
    a = -v if v < 0 else v
    uh = a >> 8
    if uh >= 255:
        r = 0xFFFF << 8
    else:
        ua = _SIGMOID16[uh]
        r = (ua << 8) + (a & 0xFF) * (_SIGMOID16[uh + 1] - ua)
    r = r - (1 << 23) + 128 if v >= 0 else -r + (1 << 23) + 127
    return r >> 8


def _gate_i8(x, x_start, hidden, g, q, acc, out, n_in, n_state):
    # g: input weights, recurrent weights, bias, (m_in, s_in, m_rec, s_rec, x_offset, h_offset, sigmoid)
    w_in, w_rec, bias = g
    m_in, s_in, m_rec, s_rec, x_offset, h_offset, sigmoid = q
    fc_acc = _HOT["fc_acc"]
    fc_acc(x, x_start, x_offset, w_in, acc, n_in, n_state)
    for o in range(n_state):
        out[o] = _sat16(mbqm(acc[o] + bias[o], m_in, s_in))
    fc_acc(hidden, 0, h_offset, w_rec, acc, n_state, n_state)
    for o in range(n_state):
        v = _sat16(out[o] + _sat16(mbqm(acc[o], m_rec, s_rec)))
        out[o] = _sigmoid16(v) if sigmoid else _tanh16(v, 3, 0)


def lstm_i8(x, y, gates, q, steps, n_in, n_state, hidden, cell, acc, f, i, c, o):
    # gates/q: forget, input, cell, output; q[4]: the inter-gate multipliers, the cell clip, the tanh
    # input scaling and the hidden state's zero point.
    m_fc, s_fc, m_ic, s_ic, m_h, s_h, clip, t_mult, t_shift, h_zero = q[4]
    for t in range(steps):
        x_start = t * n_in
        _gate_i8(x, x_start, hidden, gates[0], q[0], acc, f, n_in, n_state)
        _gate_i8(x, x_start, hidden, gates[1], q[1], acc, i, n_in, n_state)
        _gate_i8(x, x_start, hidden, gates[2], q[2], acc, c, n_in, n_state)
        for k in range(n_state):
            kept = _sat16(mbqm(f[k] * cell[k], m_fc, s_fc))
            added = _sat16(mbqm(i[k] * c[k], m_ic, s_ic))
            v = _sat16(kept + added)
            if clip > 0:
                v = -clip if v < -clip else clip if v > clip else v
            cell[k] = v
        _gate_i8(x, x_start, hidden, gates[3], q[3], acc, o, n_in, n_state)
        base = t * n_state
        for k in range(n_state):
            v = mbqm(_tanh16(cell[k], t_mult, t_shift) * o[k], m_h, s_h) + h_zero
            v = (-128 if v < -128 else 127 if v > 127 else v) & 255
            hidden[k] = v
            y[base + k] = v


def _sigmoid_f(v):
    if v > 16.619047164916992:
        return 1.0
    if v < -9.0:
        return math.exp(v)
    return 1.0 / (1.0 + math.exp(-v))


def _gate_f(x, x_start, hidden, g, out, n_in, n_state, sigmoid):
    w_in, w_rec, bias = g
    for k in range(n_state):
        s = bias[k] if bias else 0.0
        wb = k * n_in
        for j in range(n_in):
            s += x[x_start + j] * w_in[wb + j]
        out[k] = s
        s = 0.0
        wb = k * n_state
        for j in range(n_state):
            s += hidden[j] * w_rec[wb + j]
        v = out[k] + s
        out[k] = _sigmoid_f(v) if sigmoid else math.tanh(v)


def lstm_f(x, y, gates, cell_sigmoid, clip, steps, n_in, n_state, hidden, cell, f, i, c, o):
    for t in range(steps):
        x_start = t * n_in
        _gate_f(x, x_start, hidden, gates[0], f, n_in, n_state, True)
        _gate_f(x, x_start, hidden, gates[1], i, n_in, n_state, True)
        _gate_f(x, x_start, hidden, gates[2], c, n_in, n_state, cell_sigmoid)
        for k in range(n_state):
            v = f[k] * cell[k] + i[k] * c[k]
            if clip > 0:
                v = -clip if v < -clip else clip if v > clip else v
            cell[k] = v
        _gate_f(x, x_start, hidden, gates[3], o, n_in, n_state, True)
        base = t * n_state
        for k in range(n_state):
            v = o[k] * math.tanh(cell[k])
            hidden[k] = v
            y[base + k] = v
