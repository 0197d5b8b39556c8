"""Reads for tender pages, commands and metrics, by capability."""
