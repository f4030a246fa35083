"""Models: initialisation, errors that name their key, options beyond the defaults, seeded builds."""

from __future__ import annotations

import math
import socket
from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from repro.errors import ConfigError
from repro.models import build_model
from repro.models.init import sap_init
from tests.model_builds import build, composed_models


@pytest.fixture(scope="module")
def model_cfgs() -> dict[str, DictConfig]:
    return composed_models()


# --------------------------------------------------------------------------- initialisation


def test_sap_init_resets_norms_biases_and_scales_convs() -> None:
    model = nn.Sequential(
        nn.Conv2d(256, 512, 3, bias=True), nn.BatchNorm2d(512), nn.Flatten(), nn.Linear(8, 4)
    )
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-3, 3)
    sap_init(model)
    conv, bn, _, fc = model
    assert torch.equal(bn.weight, torch.ones(512)) and torch.equal(bn.bias, torch.zeros(512))
    assert torch.equal(conv.bias, torch.zeros(512)) and torch.equal(fc.bias, torch.zeros(4))
    expected = math.sqrt(2 / (512 * 9))  # Kaiming normal, fan_out = out_channels * kernel area
    assert conv.weight.std().item() == pytest.approx(expected, rel=0.02)


@pytest.mark.parametrize("name", ["cnn", "mlp", "linear", "preact_resnet18"])
def test_sap_models_are_sap_initialised(model_cfgs: dict[str, DictConfig], name: str) -> None:
    model = build(model_cfgs[name])
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert torch.equal(m.weight, torch.ones_like(m.weight)) and not m.bias.any()
        elif isinstance(m, nn.Linear):
            assert not m.bias.any()
        elif isinstance(m, nn.Conv2d):
            fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1]
            assert m.weight.std().item() == pytest.approx(math.sqrt(2 / fan_out), rel=0.25)


# --------------------------------------------------------------------------- errors


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No network and empty weight caches: torch's hub dir and the Hugging Face cache under ``tmp_path``."""
    import huggingface_hub.constants

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    return tmp_path


@pytest.mark.parametrize("name", ["swin_t", "timm"])
def test_pretrained_offline_is_a_config_error(
    model_cfgs: dict[str, DictConfig], offline: Path, name: str
) -> None:
    with pytest.raises(ConfigError, match=r"model\.pretrained") as info:
        build(model_cfgs[name], pretrained=True)
    message = str(info.value)
    assert "\n" not in message
    assert str(offline / "torch" / "hub" / "checkpoints") in message


def test_swin_loads_cached_weights_and_adapts_the_patch_embedding(
    model_cfgs: dict[str, DictConfig], offline: Path
) -> None:
    import torchvision.models as tvm

    source = tvm.get_model("swin_t", weights=None)
    checkpoints = offline / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.save(source.state_dict(), checkpoints / "swin_t-704ceda3.pth")
    model = build(model_cfgs["swin_t"], 5, in_channels=1, pretrained=True)
    rgb = source.features[0][0].weight
    assert torch.allclose(model.features[0][0].weight, rgb.sum(dim=1, keepdim=True))
    assert torch.equal(model.features[1][0].mlp[0].weight, source.features[1][0].mlp[0].weight)
    assert model.head.out_features == 5


def test_target_outside_the_allow_list_is_refused(model_cfgs: dict[str, DictConfig]) -> None:
    cfg = OmegaConf.merge(model_cfgs["mlp"], {"_target_": "os.system"})
    with pytest.raises(ConfigError, match=r"model\._target_='os\.system'"):
        build_model(cfg, in_channels=1, num_classes=10, image_size=28)


def test_target_that_is_not_a_module_is_refused() -> None:
    cfg = OmegaConf.create({"_target_": "builtins.dict", "name": "x", "input_size": None})
    with pytest.raises(ConfigError, match="not a torch.nn.Module"):
        build_model(cfg, in_channels=1, num_classes=10, image_size=28, allow_any_target=True)


@pytest.mark.parametrize(
    ("name", "change", "key"),
    [
        ("resnet18", {"depth": 50}, "model.depth"),
        ("resnet18", {"stem": "imagenet", "depth": 19}, "model.depth"),
        ("preact_resnet18", {"stem": "imagenet"}, "model.stem"),
        ("resnet32", {"depth": 33}, "model.depth"),
        ("swin_t", {"arch": "resnet18"}, "model.arch"),
        ("timm", {"arch": "no_such_net"}, "model.arch"),
    ],
)
def test_bad_values_name_their_key(
    model_cfgs: dict[str, DictConfig], name: str, change: dict[str, object], key: str
) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        build(model_cfgs[name], **change)


def test_lenet5_refuses_images_too_small(model_cfgs: dict[str, DictConfig]) -> None:
    with pytest.raises(ConfigError, match="image_size=12"):
        build_model(model_cfgs["lenet5"], in_channels=1, num_classes=10, image_size=12)


# --------------------------------------------------------------------------- options beyond the defaults


def test_wide_resnet_stages_follow_the_input_side_as_in_the_sap_code() -> None:
    from repro.models.resnet import wresnet28x8

    for side, stages, blocks in ((32, 3, 4), (64, 4, 2)):
        model = wresnet28x8(in_channels=3, num_classes=10, image_size=side, width=2)
        assert model.stages == [f"layer{i + 1}" for i in range(stages)]
        assert all(len(getattr(model, name)) == blocks for name in model.stages)
        assert model(torch.randn(1, 3, side, side)).shape == (1, 10)


def test_resnet50_cifar_stem_and_copyable_models() -> None:
    import copy

    from repro.models.resnet import resnet32, resnet50

    small = resnet50(in_channels=1, num_classes=4, image_size=32, width=8, stem="cifar")
    assert (small.conv1.kernel_size, small.conv1.stride) == ((3, 3), (1, 1))
    assert small(torch.randn(1, 1, 32, 32)).shape == (1, 4)
    resnet20 = resnet32(in_channels=3, num_classes=10, image_size=32, depth=20)
    clone = copy.deepcopy(resnet20)  # option-A shortcuts are modules, not lambdas: masks need deep copies
    assert all(torch.equal(a, b) for a, b in zip(clone.state_dict().values(), resnet20.state_dict().values()))


# --------------------------------------------------------------------------- seeded builds stay bitwise


@pytest.mark.parametrize(
    ("name", "changes", "conv1_sum", "checksum"),
    [
        # Recorded from the five per-paper ResNet modules this family replaced (same seed, same kwargs).
        ("resnet18", {"width": 8}, 0.18322840298060328, -32.544410312313744),
        ("resnet18_tiny", {"width": 8}, -3.5270002417328215, 21.963559121188496),
        ("resnet32", {}, -0.5913192177831661, 538.8700892237306),
        ("preact_resnet18", {"width": 8}, 0.18322840298060328, -31.60323702706785),
        ("wresnet28x8", {"width": 16}, 0.7853930613437115, -541.0608515359347),
        ("resnet50", {"width": 8}, 1.6243057490655701, -2557.297462675022),
    ],
)
def test_seeded_build_draws_the_recorded_weights(
    model_cfgs: dict[str, DictConfig], name: str, changes: dict[str, int], conv1_sum: float, checksum: float
) -> None:
    """Committed results rewind to these initial weights: construction order and init must not drift.

    The checksum weights each conv/linear layer's parameter sum by its position, so reordering layers,
    drawing more or fewer numbers before one, or changing an init rule all move it.
    """
    cfg = OmegaConf.merge(model_cfgs[name], changes)
    torch.manual_seed(0)
    model = build_model(cfg, in_channels=3, num_classes=10, image_size=cfg.input_size)
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    found = sum((i + 1) * p.double().sum().item() for i, m in enumerate(layers) for p in m.parameters())
    assert model.conv1.weight.double().sum().item() == pytest.approx(conv1_sum, abs=1e-9)
    assert found == pytest.approx(checksum, abs=1e-6)
