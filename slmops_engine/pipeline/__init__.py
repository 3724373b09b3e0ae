"""Pipelines: the lifecycle's stages as a chain of ordinary jobs, written down as a file that runs again headless."""
