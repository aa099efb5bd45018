"""``trtlens bench``: every benchmark, each printing its figures next to a ceiling measured in the same run.

``produce`` (load generator and worker publisher → broker), ``streams`` (one
Faust worker, all stages), ``streams-core`` (its partition cores in-process,
attribution off vs on), ``sink`` (Kafka → store), ``pipeline`` (end to end,
with latency probes), ``collect``, ``dashboard``, ``replay`` (``trtlens replay``
at 1 and N processes against a read + gunzip + parse ceiling); ``ceilings``
measures the raw client ceilings they compare against. App layer: starts its own
embedded stack and supervised processes.
"""
