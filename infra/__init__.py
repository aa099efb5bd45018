"""trtlens: observability for TensorRT inference fleets.

The repository's ``infra/`` folder is this package's root (settings, CLI, the
embedded stack, Kafka and Elasticsearch client factories); ``schemas/``,
``producers/``, ``streams/`` and ``sinks/`` install as its subpackages.
"""

from trtlens.errors import TrtlensError

__all__ = ["TrtlensError", "__version__"]

__version__ = "0.1.0"
