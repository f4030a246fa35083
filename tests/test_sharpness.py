"""Sharpness in the surviving-weight subspace: Hessian eigenvalue, directions, perturbation, interpolation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from repro.masks import Masks
from repro.metrics import sharpness as sh


def quadratic(a: torch.Tensor, w: torch.Tensor) -> sh.LossTerms:
    return lambda: [(0.5 * w @ a @ w, 1.0)]


def known_matrix(eigenvalues: list[float], seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(len(eigenvalues), len(eigenvalues), generator=g, dtype=torch.float64))
    return (q * torch.tensor(eigenvalues, dtype=torch.float64)) @ q.T


def test_top_hessian_eigenvalue_of_a_quadratic_is_found_to_one_percent():
    a = known_matrix([7.0, 3.0, 2.0, 1.0, 0.5, 0.1, -0.2, 0.05])
    w = nn.Parameter(torch.randn(8, dtype=torch.float64))
    eig, used = sh.top_hessian_eigenvalue(
        quadratic(a, w), [w], [None], iters=200, tol=1e-6, generator=torch.Generator().manual_seed(1)
    )
    assert eig == pytest.approx(7.0, rel=0.01)
    assert used < 200


def test_hessian_is_restricted_to_surviving_weights():
    a = known_matrix([9.0, 4.0, 2.0, 1.0, 0.5, 0.3], seed=3)
    keep = torch.tensor([False, True, True, False, True, True])
    w = nn.Parameter(torch.randn(6, dtype=torch.float64))
    expected = torch.linalg.eigvalsh(a[keep][:, keep]).abs().max().item()  # the principal submatrix
    assert expected < 9.0 - 1e-3  # the full matrix's top eigenvalue would be wrong here
    eig, _ = sh.top_hessian_eigenvalue(
        quadratic(a, w), [w], [keep], iters=300, tol=1e-7, generator=torch.Generator().manual_seed(0)
    )
    assert eig == pytest.approx(expected, rel=0.01)


def pruned_convnet() -> tuple[nn.Module, Masks]:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    masks = Masks.for_model(net)
    masks["0"] = torch.rand(4, 1, 3, 3) > 0.5
    masks["3"] = torch.rand(3, 64) > 0.7
    masks.apply()
    return net, masks


def test_filter_normalised_direction_has_each_filters_norm_and_is_zero_when_pruned():
    net, masks = pruned_convnet()
    free = sh.free_parameters(net, masks)
    assert [f.name for f in free] == ["0.weight", "3.weight"]
    dirs = sh.filter_normalized_direction(free, torch.Generator().manual_seed(0))
    for f, d in zip(free, dirs):
        assert (d[~f.keep] == 0).all()
        w_rows = f.param.detach().reshape(d.shape[0], -1).norm(dim=1)
        d_rows = d.reshape(d.shape[0], -1).norm(dim=1)
        assert torch.allclose(d_rows, w_rows, rtol=1e-5)
    with_all = sh.free_parameters(net, masks, "all")
    assert [f.name for f in with_all] == ["0.weight", "0.bias", "3.weight", "3.bias"]


def test_perturbations_never_touch_pruned_weights_and_restore_the_model():
    net, masks = pruned_convnet()
    x, y = torch.randn(32, 1, 6, 6), torch.arange(32) % 3
    batches = [(x[:16], y[:16]), (x[16:], y[16:])]
    before = {k: v.clone() for k, v in net.state_dict().items()}
    seen_pruned: list[float] = []

    def record_pruned(_module: nn.Module, _inputs: object) -> None:
        with torch.no_grad():
            seen_pruned.append(sum(float(masks.weight(n)[~masks[n]].abs().sum()) for n in masks))

    net.register_forward_pre_hook(record_pruned)
    free = sh.free_parameters(net, masks)
    gen = torch.Generator().manual_seed(0)
    d1, d2 = sh.filter_normalized_direction(free, gen), sh.filter_normalized_direction(free, gen)
    centre = sh.evaluate_loss(net, batches)[0]
    curve = sh.loss_curve(net, free, batches, d1, [-1.0, 0.0, 1.0])
    assert curve["loss"][1] == pytest.approx(centre, abs=1e-6)
    assert curve["loss"][0] != pytest.approx(centre, abs=1e-4)
    surface = sh.loss_surface(net, free, batches, d1, d2, [-0.5, 0.0, 0.5], [0.0, 0.5])
    assert surface["loss"][1][0] == pytest.approx(centre, abs=1e-6)
    eps = sh.epsilon_sharpness(net, free, batches, epsilon=1e-2, steps=5)
    assert eps["loss"] == pytest.approx(centre, abs=1e-6)
    assert eps["increase"] > 0 and eps["sharpness"] == pytest.approx(100 * eps["increase"] / (1 + centre))
    # a larger box can only find a larger increase (both ascents start at the centre)
    assert sh.epsilon_sharpness(net, free, batches, epsilon=5e-2, steps=5)["increase"] > eps["increase"]
    assert max(seen_pruned) == 0.0, "a pruned weight moved during a measurement"
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), f"{k} was not restored"


def test_interpolation_hits_both_solutions_and_barrier_is_height_above_the_chord():
    net_a, _ = pruned_convnet()
    torch.manual_seed(1)
    net_b = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3))
    x, y = torch.randn(20, 1, 6, 6), torch.arange(20) % 3
    batches = [(x, y)]
    state_a = {k: v.clone() for k, v in net_a.state_dict().items()}
    curve = sh.interpolate(net_a, state_a, net_b.state_dict(), batches, [0.0, 0.5, 1.0])
    assert curve["loss"][0] == pytest.approx(sh.evaluate_loss(net_a, batches)[0], abs=1e-6)
    assert curve["loss"][2] == pytest.approx(sh.evaluate_loss(net_b, batches)[0], abs=1e-6)
    assert all(torch.equal(v, state_a[k]) for k, v in net_a.state_dict().items())
    # barrier by hand: endpoints 1 and 3, midpoint 4 -> 4 - 2 = 2; points outside [0, 1] do not count
    assert sh.barrier({"t": [-0.5, 0.0, 0.5, 1.0], "loss": [9.0, 1.0, 4.0, 3.0]}) == pytest.approx(2.0)


@pytest.mark.slow
def test_cli_multirun_of_three_pruners_on_real_mnist_draws_the_1d_plot(mnist_root, tmp_path):
    """One multirun of one-shot, gradual and LOBSTER on LeNet-300 / real MNIST.

    LOBSTER is ``lobster_cpu``: with the group's defaults nothing is forced, and three epochs hold no plateau.
    """
    import subprocess
    import sys

    import pandas as pd

    from repro.reports.runs import normal
    from tests.conftest import REPO, cli_env

    args = [
        "-m", "pruner=oneshot,gradual,lobster_cpu", "model=lenet300", "dataset=mnist",
        f"dataset.root={mnist_root}", "dataset.train_subset=4000", "dataset.val_size=1000",
        "trainer.dense_epochs=3", "trainer.epochs=3", "trainer.lr=0.05", "trainer.num_threads=1",
        "pruner.sparsity=0.95",
        "entropy=psp", "analysis=sharpness", "analysis.batches=1", "analysis.points_1d=11",
        "analysis.points_2d=5", "analysis.hessian_iters=8", f"out_dir={tmp_path}", "logger=none",
        "sweep_name=ovg",
    ]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "repro.run", *args],
        cwd=REPO, env=cli_env(tmp_path), capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    (out,) = (tmp_path / "multirun" / "ovg").glob("*/sharpness")  # the multirun's aggregation callback
    for figure in ("curve1d", "surface2d", "interpolation", "psp_hist", "psp_matrix"):
        assert (out / f"{figure}_lenet300_mnist.png").exists(), figure
    table = pd.read_csv(out / "oneshot_vs_gradual.csv")
    final = table[table["method"] != "dense"].set_index("method")
    assert {normal(m) for m in final.index} == {"oneshot", "gradual", "lobster"}
    for method, r in final.iterrows():
        assert r["test error %"] < 10.0, method  # far below chance (90 %) after real training
        assert r["sparsity %"] == pytest.approx(95.0, abs=0.01), method  # sparsity reached
