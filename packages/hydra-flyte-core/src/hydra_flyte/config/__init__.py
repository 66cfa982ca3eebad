"""What a launch is asked to do, checked before anything runs: settings, run options, overrides, task_env, task inputs."""
