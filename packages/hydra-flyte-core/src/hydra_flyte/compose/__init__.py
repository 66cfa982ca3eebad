"""Hydra's side of a job: each job's config composed, and Hydra's per-job bookkeeping, for less work than Hydra's own."""
