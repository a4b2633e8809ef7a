"""Keras model + variant plan -> TFLite flatbuffer: converter recipes, conversion, the
quantization debugger (and --keep_float), LUT compression and stripping. Imports TensorFlow."""
