"""A second stage: a classifier that names each detected box again from its crop.

Light on purpose (no numpy, no OpenCV): the config imports ``DEFAULT_CONTEXT`` from here.
"""

# MNIST-style classifiers see a 20 px digit in a 28 px square: 28 / 20.
DEFAULT_CONTEXT = 1.4
