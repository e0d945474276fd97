"""Running notebooks as tests: executing them (notebooks), the lanes that run them side by side
(schedule), their stable outputs (stable), the spec's coverage (coverage) and where a run came
from (provenance). Layer: may import the helpers, the lab, the cluster machinery and the core;
never the site or the CLI.
"""
