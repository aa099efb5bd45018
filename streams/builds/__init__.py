"""Engine build reports: grey-box rules (config/core) and their routing in the streams app (agent)."""
