"""``trtlens dashboard``: a local web UI over the store (embedded osmem or Elasticsearch).

* :mod:`.queries` — panel query bodies and answer shapes (pure);
* :mod:`.data` — one bounded, time-filtered store query per panel;
* :mod:`.server` — the HTTP listener (127.0.0.1 by default; a token for any other address);
* :mod:`.report` — ``trtlens report``: the same panels as one self-contained HTML file (+ PNGs);
* :mod:`.kibana` — ``trtlens kibana import``: the saved objects for the production stack;
* ``static/`` — the page (vanilla JS + SVG; nothing is fetched from another host).
"""
