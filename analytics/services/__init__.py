"""Writes and computations of the analytics app: whatif (replaying past
negotiations against a draft playbook; nothing is saved)."""
