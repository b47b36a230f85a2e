"""The on-device stress model: preprocessing, one warmed-up ONNX Runtime session, outputs.

Depends only on numpy, Pillow and onnxruntime (never torch), so the edge install stays small.
"""
