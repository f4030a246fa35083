"""The SAP dashboard: the accuracy / compression trade-off per method and the PQ Index trajectories."""

from repro.registry import register
from repro.reports.dashboard import ACCURACY, Dashboard, line

DASHBOARD = register("dashboard", "sap")(
    Dashboard(
        "SAP and the PQ Index",
        "Sparsity-informed adaptive pruning against lottery ticket and one-shot pruning: accuracy at each "
        "remaining fraction, and the PQ Index of the surviving weights at every step.",
        (
            ACCURACY,
            line("PQ Index, mean neuron PQ Index and Gini per step", "step", "pqi", "pqi_neuron", "gini"),
            line("Accuracy right after pruning and after retraining", "step", "pruned_test_acc", "test_acc"),
        ),
    )
)
