"""What a sweep knows about its jobs: phases, the manifest on disk, results, the directory lock and the summary."""
