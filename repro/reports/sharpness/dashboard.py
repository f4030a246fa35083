"""The one-shot vs gradual dashboard: sharpness and PSP-entropy of each method's solution, as bars."""

from repro.registry import register
from repro.reports.dashboard import ACCURACY, Dashboard, bar

DASHBOARD = register("dashboard", "sharpness")(
    Dashboard(
        "One-shot vs gradual pruning: sharpness and PSP-entropy",
        "Solutions of one-shot, gradual and LOBSTER pruning from one dense start: how sharp each minimum "
        "is, its PSP-entropy, and its accuracy.",
        (
            bar("Sharpness of the final solution", "hessian_top_eig", "eps_sharpness", "sharpness_loss"),
            bar("PSP-entropy of the final solution", "psp_network", "psp_network_neurons"),
            ACCURACY,
        ),
    )
)
