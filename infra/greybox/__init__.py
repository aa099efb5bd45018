"""Grey-box rules over TensorRT engine builds: what a build must satisfy, and how two builds differ.

Shared by ``trtlens check`` (``producers/trtlog``) and the streams app's build
stage (``streams/builds``); pure (no I/O, no clock) and importing only the
contract. Modules: ``config`` (the rules, their YAML form, the ``builds``
settings section), ``core`` (evaluation), ``diff`` (build-to-build diffs).
Nothing is imported here: importing the package costs nothing.
"""
