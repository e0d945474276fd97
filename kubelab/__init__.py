"""kubelab: learn Kubernetes by experiment, on throwaway kind clusters.

The library grows with the notebooks; see README.md for the tour.
"""

__version__ = "0.1.0"
