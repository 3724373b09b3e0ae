"""Hyper-parameter search for fine-tuning: an Optuna study whose trials are ordinary fine-tuning jobs."""
