"""Load generator: synthetic traffic with known ground truth (``trtlens load``)."""
