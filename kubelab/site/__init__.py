"""kubelab's website (see build.py)."""
