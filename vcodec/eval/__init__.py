"""Evaluation: metrics, development images, classical baselines and BD-rate."""
