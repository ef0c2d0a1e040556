"""Real signals through real layers: sample inputs, uploads, named kernels and runs.

Everything a "real data" page needs, with no streamlit here (NumPy and Pillow at import,
matplotlib only inside :func:`to_png`). One module per job; import the names from here:

* :mod:`.inputs`: what comes in. The shipped inputs (:data:`ASSETS`, :class:`Asset`,
  :data:`REGISTRY`, :data:`KINDS`, :func:`load_asset`) and the loaders that validate an
  upload before decoding it (:func:`load_image`, :func:`fit`, :func:`load_signal`,
  :func:`load_volume`, limits :data:`MAX_UPLOAD_BYTES`, :data:`MAX_UPLOAD_PIXELS`,
  :data:`IMAGE_FORMATS`); every problem with an input is a ValueError that says what was
  received and what is allowed.
* :mod:`.kernels`: named kernels (:data:`KERNELS`, :func:`taps`, :func:`kernel`,
  :func:`layer_weights`, :data:`CHANNEL_RULES`, :data:`LAYOUTS`) in the Keras weight
  layout of each layer family.
* :mod:`.runs`: runs through the convviz layers themselves, so every number is the
  engine's (:func:`apply` -> :class:`Result`, :func:`batch_run` -> :class:`BatchResult`),
  within :data:`MAX_BATCH_ELEMENTS`, :data:`MAX_OUTPUT_ELEMENTS` and :data:`MAX_MACS`.
* :mod:`.demos`: the transposed-convolution checkerboard (:func:`checkerboard_demo` ->
  :class:`Checkerboard`) and a WaveNet receptive field (:func:`receptive_field_1d` ->
  :class:`ReceptiveField1D`), composed by :mod:`convviz.stack`.
* :mod:`.window`: the window of one output cell (:func:`window_of` -> :class:`Window`),
  from the layer's trace.
* :mod:`.pictures`: a PNG grid of feature maps (:func:`to_png`, :func:`scale_label`).

Modules depend one way: ``runs`` on ``kernels`` and ``pictures``; ``demos`` and ``window``
on ``runs``; ``inputs`` on none of them.

Arrays follow the natural layout of each kind of data: an image is ``(H, W)`` or
``(H, W, 3)``, a signal ``(steps,)``, a volume ``(D, H, W)``, all float32. Where a layer
wants a batch, the channels go where its ``data_format`` says (:mod:`convviz.layout`).

A run in one call: named kernels are cross-correlations (Keras does not flip kernels), so
``sobel_x`` is positive where the image gets brighter to the right:

>>> import numpy as np
>>> ramp = np.tile(np.arange(5.0), (5, 1))          # brighter to the right, 1 per column
>>> apply("Conv2D", ramp, kernel="sobel_x", filters=1, kernel_size=3).feature_maps[0]
array([[8., 8., 8.],
       [8., 8., 8.],
       [8., 8., 8.]], dtype=float32)
"""

from .demos import Checkerboard, ReceptiveField1D, checkerboard_demo, receptive_field_1d
from .inputs import (
    ASSETS,
    IMAGE_FORMATS,
    KINDS,
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_PIXELS,
    REGISTRY,
    Asset,
    fit,
    load_asset,
    load_image,
    load_signal,
    load_volume,
    sample_batch,
)
from .kernels import CHANNEL_RULES, KERNELS, LAYOUTS, kernel, layer_weights, taps
from .pictures import scale_label, to_png
from .runs import (
    CHUNK_MACS,
    MAX_BATCH_ELEMENTS,
    MAX_MACS,
    MAX_OUTPUT_ELEMENTS,
    BatchResult,
    Result,
    apply,
    batch_run,
)
from .window import Window, window_of

__all__ = [
    "ASSETS", "CHUNK_MACS", "Asset", "BatchResult", "CHANNEL_RULES", "Checkerboard",
    "IMAGE_FORMATS",
    "KERNELS", "KINDS", "LAYOUTS", "MAX_BATCH_ELEMENTS", "MAX_MACS", "MAX_OUTPUT_ELEMENTS",
    "MAX_UPLOAD_BYTES", "MAX_UPLOAD_PIXELS", "REGISTRY", "ReceptiveField1D", "Result",
    "Window", "apply", "batch_run", "checkerboard_demo", "fit", "kernel", "layer_weights",
    "load_asset", "load_image", "load_signal", "load_volume", "receptive_field_1d",
    "sample_batch", "scale_label", "taps", "to_png", "window_of",
]
