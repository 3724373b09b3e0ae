"""Optimize: convert a model variant to ONNX (fp32 / int8 / int4) with onnxruntime-genai's model builder."""
