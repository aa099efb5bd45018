"""The streams app: one Faust app with two agents over stages that are folders of pure code.

* agent ``process`` (``pipeline/``): per partition of ``trtlens.events``, one
  group of records at a time — decode, dedup, drop, partial windows, trace join
  and sampling, build reports; its state is the partition's state log.
* agent ``merge`` (``merge/``): partial windows → final windows and alerts.

Stage folders (``decode dedup drop metrics merge alerts traces builds``) hold a
``config.py``, a pure ``core.py`` (no Faust import) and a README. This package's
own modules are the app around them: ``config`` (the ``streams`` settings
section), ``app`` (Faust wiring), ``runtime`` (what the agents share),
``outputs`` (the output producer), ``offsets`` (gap check and re-reads),
``faust_glue`` (where Faust is corrected), ``cli``.
"""
