"""Accuracy recovery: when a quantized variant is outside the guard, other calibrations of the same
int8 flatbuffer (ranges, biases) are tried, cheapest first, each judged on the validation rows."""
