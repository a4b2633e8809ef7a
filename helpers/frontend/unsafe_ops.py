"""What in a model file can run code or touch the machine when the model is loaded or called: the
deny lists model_code.py checks against, each entry with its reason (the refusal quotes it).

Nothing here imports TensorFlow: these are names, compared with what the file's configuration or
graph says, never executed."""
from __future__ import annotations

# TensorFlow graph ops with side effects outside the model: file system, Python callbacks,
# summaries and debug dumps, printing to a file, readers of arbitrary files.
SIDE_EFFECT_OPS: dict[str, str] = {
    "ReadFile": "reads a file",
    "WriteFile": "writes a file",
    "MatchingFiles": "lists files on the machine",
    "PyFunc": "runs Python code",
    "PyFuncStateless": "runs Python code",
    "EagerPyFunc": "runs Python code",
    "Print": "prints from the graph",
    "PrintV2": "prints from the graph (to a file, if asked)",
    "ImmutableConst": "maps a file into memory",
    "Save": "writes a checkpoint file",
    "SaveSlices": "writes a checkpoint file",
    "Restore": "reads a checkpoint file",
    "RestoreSlice": "reads a checkpoint file",
    "CreateSummaryFileWriter": "writes summary files",
    "CreateSummaryDbWriter": "writes a summary database",
    "WriteSummary": "writes summary files",
    "WriteScalarSummary": "writes summary files",
    "WriteHistogramSummary": "writes summary files",
    "WriteImageSummary": "writes summary files",
    "WriteAudioSummary": "writes summary files",
    "WriteRawProtoSummary": "writes summary files",
    "WriteGraphSummary": "writes summary files",
    "ImportEvent": "writes summary files",
    "FlushSummaryWriter": "writes summary files",
    "DebugIdentity": "dumps tensors to files or a server",
    "DebugIdentityV2": "dumps tensors to files",
    "DebugIdentityV3": "dumps tensors to files or a server",
    "DebugNumericSummary": "dumps tensors to files or a server",
    "DebugNumericSummaryV2": "dumps tensors to files",
    "WholeFileReader": "reads files",
    "WholeFileReaderV2": "reads files",
    "TextLineReader": "reads files",
    "TextLineReaderV2": "reads files",
    "TFRecordReader": "reads files",
    "TFRecordReaderV2": "reads files",
    "FixedLengthRecordReader": "reads files",
    "FixedLengthRecordReaderV2": "reads files",
    "LMDBReader": "reads files",
    "TFRecordDataset": "reads files",
    "TFRecordDatasetV2": "reads files",
    "TextLineDataset": "reads files",
    "FixedLengthRecordDataset": "reads files",
    "FixedLengthRecordDatasetV2": "reads files",
    "SaveDataset": "writes files",
    "SaveDatasetV2": "writes files",
    "LoadDataset": "reads files",
    "DatasetToTFRecord": "writes a file",
    "ExperimentalDatasetToTFRecord": "writes a file",
    "LoadAndRemapMatrix": "reads a checkpoint file",
    "InitializeTableFromTextFile": "reads a file",
    "InitializeTableFromTextFileV2": "reads a file",
    "CacheDataset": "writes a cache file",
    "CacheDatasetV2": "writes a cache file",
    "SnapshotDataset": "writes files",
    "SnapshotDatasetV2": "writes files",
    "RpcCall": "calls a server",
    "RpcClient": "calls a server",
    "RpcServer": "starts a server",
    "Recv": "receives tensors from another process",
    "Send": "sends tensors to another process",
}

# Checkpoint ops every SavedModel holds in its saver functions (tf.saved_model.save writes them);
# run only when the checkpoint is saved or restored, never when the model is called.
CHECKPOINT_OPS = {"SaveV2": "writes a checkpoint file", "RestoreV2": "reads a checkpoint file",
                  "MergeV2Checkpoints": "moves checkpoint files"}
SAVER_FUNCTION_PREFIXES = ("__inference__traced_save_", "__inference__traced_restore_")

# tf_keras's TFOpLambda / SlicingOpLambda layers call a TensorFlow function named in the config
# (`math.add`, `io.write_file`): these name prefixes reach outside the model.
TF_FUNCTION_PREFIXES: dict[str, str] = {
    "io.": "reads or writes files",
    "compat.v1.io.": "reads or writes files",
    "data.": "reads files",
    "debugging.": "dumps tensors",
    "summary.": "writes summary files",
    "print": "prints from the graph",
    "py_function": "runs Python code",
    "numpy_function": "runs Python code",
    "compat.v1.py_func": "runs Python code",
    "compat.v1.Print": "prints from the graph",
    "saved_model.": "reads or writes files",
    "keras.utils.get_file": "downloads files",
}

# Keras configuration values that are Python code however they are wrapped.
CODE_CLASS_NAMES = {"Lambda": "a Lambda layer runs the Python function saved in the file",
                    "__lambda__": "a Python lambda saved in the file",
                    "__too_deep__": "the configuration nests more than 200 levels deep, too deep to check"}

# Keras 3 serialization's own wrappers of plain values (not objects with code).
VALUE_WRAPPERS = {"__tuple__", "__numpy__", "__tensor__", "__bytes__", "__ellipsis__", "__slice__",
                  "__typespec__", "__keras_tensor__", "__tensorshape__", "__dtype__"}
# Modules a Keras config may name for built-in objects.
KERAS_MODULE_ROOTS = {"keras", "tf_keras", "builtins"}
