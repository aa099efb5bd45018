"""The Faust app: one folder per stage (config, pure core, thin agent, README)."""
