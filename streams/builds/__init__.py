"""The streams app's build stage: ``engine_build`` events → grey-box rules (``trtlens.greybox``) → ``trtlens.builds``."""
