"""The prune-retrain loop, its typed step context and the step hooks it runs."""
