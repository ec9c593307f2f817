"""lth: lottery-ticket experiments on TF-MOT, as used by the lth-book.

Importing this package sets ``TF_USE_LEGACY_KERAS=1`` before TensorFlow loads,
because TF-MOT only works with Keras 2 (``tf_keras``).
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
