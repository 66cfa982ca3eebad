"""Durable sweeps: the whole sweep as one Flyte run whose driver task runs each job as a child action."""
