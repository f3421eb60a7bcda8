"""converter: Keras model + calibration data -> one self-describing int8 ``.tflite``.

Workstation side: needs the ``convert`` extra (TensorFlow, tqdm). Importing this
package or ``converter.command`` does not import TensorFlow; the modules that need it
import it through ``converter.quiet.import_tensorflow`` when called, so ``edge convert
--help`` stays fast and the error for a missing extra can name the install command.

Flow (``converter.convert.convert``)::

    .keras --load--> Keras model --export (batch 1)--> SavedModel --TFLiteConverter--> bytes
    calibration data --(edge preprocessing)--> representative dataset -----^
    eval data --> Keras float predictions  vs  LiteRT quantized predictions --> Report
    Manifest --embed as metadata "edge.manifest"--> the .tflite file

``edge convert`` runs that flow in a child process (``converter.isolation``), so nothing
from the model executes in the command's own process.
"""
