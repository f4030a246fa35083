"""Pruning parts (scores, count rules, schedules, mask updates) and the methods composed from them."""
