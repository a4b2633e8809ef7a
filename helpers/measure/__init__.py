"""Measuring a built variant: LiteRT and TFLM runners, metrics, budgets, and the embedded
toolchains (Cortex-M cross-compiler, mpy-cross). Never imports TensorFlow: TFLite models run on
ai-edge-litert and tflite_micro."""
