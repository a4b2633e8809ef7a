"""Getting the user's model in: loading (Keras 2/3, SavedModel, ONNX, PyTorch) and optimizing it
(pruning, clustering, QAT with tensorflow-model-optimization). Imports TensorFlow."""
