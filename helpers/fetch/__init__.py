"""`fetch`: the pinned TFLM and MicroPython source trees, cloned into the user's cache and verified."""
