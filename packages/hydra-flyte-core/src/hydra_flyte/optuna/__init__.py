"""`hydra/sweeper=optuna_async`: Optuna's ask-and-tell loop with its trials always in flight."""
