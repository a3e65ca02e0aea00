"""Pretrained Light-SERNet models shipped with sernet-edge (installed as sernet_edge.models)."""
