"""Evaluation: metrics, data sets, classical baselines, the RD runner, BD-rate tables and plots.

``methods`` names what can be evaluated, ``rd`` runs it, ``report`` writes JSON, Markdown and PNG.
"""
