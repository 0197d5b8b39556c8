"""Reads of the analytics app, by capability: outcomes (the figures of the
outcomes page, its CSV and the API) and quality (one agreement's distance to the
Pareto frontier and the Nash point)."""
