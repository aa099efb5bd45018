"""Grey-box rules over TensorRT engine builds: what a build must satisfy, how two builds differ,
how a build compares with its runtime profile, and how names are redacted on the way out.

Shared by ``trtlens check`` (``producers/trtlog``) and the streams app's build
stage (``streams/builds``); pure (no I/O, no clock) and importing only the
contract. Modules: ``config`` (the rules, their YAML form, the ``builds``
settings section), ``core`` (evaluation), ``result`` (one rule's outcome),
``names`` / ``engine`` (engine layers → original layers and op types),
``fusion`` / ``precision`` / ``versions`` (the seed's rules), ``correlate``
(build ↔ runtime), ``diff`` (build-to-build diffs), ``redact`` (names out).
Nothing is imported here: importing the package costs nothing.
"""
