# UNIDIRECTIONAL_SEQUENCE_LSTM as TFLM evaluates it (micro/kernels/lstm_eval.h): per time step the
# forget, input and cell gates, the cell update, the output gate and the hidden state; int8
# activations with an int16 cell state, or float32 throughout. `hidden` and `cell` are the
# model's variable tensors: reset() zeroes them (the hidden state to its zero point).


def lstm_i8(x, y, gates, q, steps, n_in, n_state, hidden, cell, acc, f, i, c, o):
    # gates: forget, input, cell, output, each (input weights, recurrent weights, bias); q[0:4]: each
    # gate's input and recurrent (limbs, shift) arrays, the input and hidden offsets, and 1 for a
    # sigmoid gate (0: tanh); q[4]: the cell's (limbs, shift) arrays, the cell clip, the tanh input
    # scaling and the hidden state's zero point. Per step, in the hot loops:
    #   gate = activation(sat16(sat16(mbqm(W x + bias)) + sat16(mbqm(R h))))
    #   cell = clip(sat16(sat16(mbqm(f * cell)) + sat16(mbqm(i * c))))
    #   h = mbqm(tanh(cell) * o) + zero point, clamped to int8
    # The four gates depend only on x and h, so they run first, in one loop. Each step's h is
    # written to y only; the next step reads it there, and `hidden` gets the last one.
    l_fc, s_fc, l_ic, s_ic, l_h, s_h, clip, t_mult, t_shift, h_zero = q[4]
    fc_acc = _HOT["fc_acc"]
    scale_acc = _HOT["scale_acc"]
    activate16 = _HOT["activate16"]
    products16 = _HOT["products16"]
    store_i8 = _HOT["store_i8"]
    h = hidden
    h_start = 0
    for t in range(steps):
        x_start = t * n_in
        for g in range(4):
            w_in, w_rec, bias = gates[g]
            l_in, s_in, l_rec, s_rec, x_offset, h_offset, sigmoid = q[g]
            out = f if g == 0 else i if g == 1 else c if g == 2 else o
            fc_acc(0, 0, 0, x, x_start, x_offset, w_in, acc, n_in, n_state)
            scale_acc(0, 0, 0, acc, n_state, n_state, bias, l_in, s_in, 1, 0, out, 1, 0)
            fc_acc(0, 0, 0, h, h_start, h_offset, w_rec, acc, n_state, n_state)
            scale_acc(0, 0, 0, acc, n_state, 1, acc, l_rec, s_rec, 0, 0, out, 2, 0)
            activate16(0, 0, 0, out, out, n_state, _SIGMOID16, sigmoid, 3, 0)
        products16(0, f, cell, acc, n_state)
        scale_acc(0, 0, 0, acc, n_state, 1, acc, l_fc, s_fc, 0, 0, cell, 1, 0)
        products16(0, i, c, acc, n_state)
        scale_acc(0, 0, 0, acc, n_state, 1, acc, l_ic, s_ic, 0, 0, cell, 2, clip)
        activate16(0, 0, 0, cell, f, n_state, _SIGMOID16, 0, t_mult, t_shift)
        products16(0, f, o, acc, n_state)
        scale_acc(0, 0, 0, acc, n_state, 1, acc, l_h, s_h, 0, 0, acc, 0, 0)
        h = y
        h_start = t * n_state
        store_i8(0, 0, 0, acc, n_state, y, h_start, h_zero, -128, 127)
    if steps:
        store_i8(0, 0, 0, acc, n_state, hidden, 0, h_zero, -128, 127)


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
