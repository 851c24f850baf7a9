"""Image-model helpers shared by task plugins: letterboxing, input tensors, SSD anchor decoding, line windows.

Imported only by plugins (never by ``import edgevid``); OpenCV is imported inside functions.
"""
