# The movement ops of channels-last tensors (TRANSPOSE, RESIZE_NEAREST_NEIGHBOR, MIRROR_PAD, ...)
# copy runs of consecutive elements: one index per run, a map `run` times shorter than gather's.
# (int8 tensors: hot_elementwise.py's gather_runs_i8.)


def gather_runs(x, y, index, run, pad):
    # y[i * run + c] = x[index[i] + c], or pad for the whole run where the index is negative
    o = 0
    for i in range(len(index)):
        k = index[i]
        if k >= 0:
            for c in range(run):
                y[o + c] = x[k + c]
        else:
            for c in range(run):
                y[o + c] = pad
        o += run
