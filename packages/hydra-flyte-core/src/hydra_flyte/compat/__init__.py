"""Fences: every private symbol of a dependency (Flyte, Hydra, OmegaConf, Kubernetes, Optuna), each with a public fallback."""
