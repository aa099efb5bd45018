"""Inference worker: backends (ONNX Runtime, TensorRT), synthetic client, event emission (`trtlens worker`)."""
