"""The Python SDK's entry points: `hydra_run` and `hydra_sweep`."""
