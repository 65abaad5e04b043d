"""Recording: HDR histograms per (traffic, metric), fast statistics, the interval log, the run directory.

Owns what a run writes and how it is read back. Never talks to a server and never imports Locust.
"""
