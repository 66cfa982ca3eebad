"""Talking to the control plane: submitting runs, owning their names, waiting, riding out outages, resuming and reattaching."""
