"""Measurements taken on a trained (pruned) network: entropies, PQ Index, sharpness, depth."""
