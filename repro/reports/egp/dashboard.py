"""The EGP dashboard: layers removed per step, their entropy, and the accuracy it costs."""

from repro.registry import register
from repro.reports.dashboard import ACCURACY, Dashboard, line

DASHBOARD = register("dashboard", "egp")(
    Dashboard(
        "EGP: unstructured pruning that removes layers",
        "Entropy-guided pruning against iterative magnitude pruning: zero-entropy (removable) layers per "
        "step, the mean layer entropy, real against nominal sparsity, and the accuracy at each step.",
        (
            ACCURACY,
            line("Removed (zero-entropy) layers per step", "step", "egp_removed_layers"),
            line("Mean layer entropy per step", "step", "egp_mean_entropy"),
            line("Real and nominal sparsity per step", "step", "sparsity", "nominal_sparsity"),
        ),
    )
)
