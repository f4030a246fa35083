"""Pruning parts (scores, count rules, schedules, the mask update) and the methods composed from them."""
