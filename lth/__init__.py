"""lth: lottery-ticket experiments on TF-MOT, as used by the lth-book.

Importing this package sets ``TF_USE_LEGACY_KERAS=1`` before TensorFlow loads,
because TF-MOT only works with Keras 2 (``tf_keras``), and ``TF_ENABLE_ONEDNN_OPTS=1``: the stacked
engine (:mod:`lth.stacked`) trains K convolutional networks as one grouped convolution, whose gradient
TensorFlow's own CPU kernels refuse ("Gradients for grouped convolutions are not supported on CPU");
oneDNN's kernels compute it. TensorFlow turns oneDNN on by itself only on CPUs with AVX-512 (where
:mod:`lth.native` usually runs these layers anyway), so on a CPU without it (an AMD EPYC here) the
engine needs it asked for. It must be set before TensorFlow loads.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"
