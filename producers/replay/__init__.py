"""Replay / backfill of historic logs into trtlens.events (`trtlens replay`)."""
