"""The converter's child process, and only it, imports this package: it runs one job (convert/jobs.py)
with TensorFlow's converter, calibrator or quantization debugger and exits. The parent never
imports it, so nothing here reaches back into the pipeline."""
