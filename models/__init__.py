"""Reference Keras architectures, the data they train on, and the recipe for the zoo.

Importing this package must stay free of TensorFlow: ``edge.model.zoo`` locates ``models/zoo``
with ``importlib.util.find_spec`` and tests import ``models.data`` without Keras. Only
``models.cnn`` and ``models.train`` import Keras.
"""
