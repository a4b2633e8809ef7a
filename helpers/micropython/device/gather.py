# Data movement (STRIDED_SLICE, PAD, CONCATENATION, TRANSPOSE, ...): the exporter works out which
# input element lands where, so the board only copies. A negative index is padding.


def gather(x, y, index, pad):
    for i in range(len(index)):
        k = index[i]
        y[i] = x[k] if k >= 0 else pad


def scatter(x, y, index):
    # y[index[i]] = x[i]: one input of a CONCATENATION placed in the output.
    for i in range(len(index)):
        y[index[i]] = x[i]
