"""``trtlens collect``: events from where inference services already log (files, HTTP pushes, other shippers)."""
