"""The ground floor: errors, paths, progress, the spec as data, judging an object's readiness and
reading resource quantities. Layer: imports nothing else of kubelab; everything may import it.
"""
