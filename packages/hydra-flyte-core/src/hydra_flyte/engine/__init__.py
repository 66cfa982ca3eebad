"""A launch: FlyteLauncher and everything that starts a launch's jobs, waits for them and ends it."""
