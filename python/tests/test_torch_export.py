"""SqueezeNets as PyTorch users export them (torch.onnx.export of torchvision's layout, Iandola
et al. 2016: v1.0 and v1.1, with a simple bypass or BatchNorm, opsets 9 to 17, a fixed or a
symbolic batch, 1000 or 37 classes, the heads people write): the runtime gives PyTorch's own
outputs, a quantized .sqz of the export stays close to them, and a training-mode export is
refused."""
import numpy as np
import pytest

import squeeze_compress as sc

torch = pytest.importorskip("torch", reason="python3-torch is not installed")
pytest.importorskip("onnx", reason="python3-onnx is not installed (torch.onnx.export needs it)")
nn = torch.nn
# The exporter's own notes (tracing x.size(0), training-mode mutations) are not ours to fix.
pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")]

# torchvision.models.squeezenet's Fire modules and stems (torchvision is not a Debian package).
V10 = [(96, 16, 64), (128, 16, 64), (128, 32, 128), "pool", (256, 32, 128), (256, 48, 192),
       (384, 48, 192), (384, 64, 256), "pool", (512, 64, 256)]
V11 = [(64, 16, 64), (128, 16, 64), "pool", (128, 32, 128), (256, 32, 128), "pool",
       (256, 48, 192), (384, 48, 192), (384, 64, 256), (512, 64, 256)]


class Fire(nn.Module):
    def __init__(self, inplanes, squeeze, expand, batchnorm):
        super().__init__()

        def conv(cin, cout, k):
            layers = [nn.Conv2d(cin, cout, k, padding=k // 2, bias=not batchnorm)]
            return nn.Sequential(*layers, *([nn.BatchNorm2d(cout)] if batchnorm else []),
                                 nn.ReLU(inplace=True))

        self.squeeze = conv(inplanes, squeeze, 1)
        self.expand1x1, self.expand3x3 = conv(squeeze, expand, 1), conv(squeeze, expand, 3)

    def forward(self, x):
        x = self.squeeze(x)
        return torch.cat([self.expand1x1(x), self.expand3x3(x)], 1)


class SqueezeNet(nn.Module):
    """head: how the classifier's [N, C, 1, 1] becomes [N, C]: torch.flatten (torchvision),
    x.view(x.size(0), C) (torchvision before 0.3), x.squeeze(-1).squeeze(-1), or x.mean((2, 3))
    in place of the average pooling."""

    def __init__(self, version, classes, bypass=False, batchnorm=False, head="flatten"):
        super().__init__()
        self.head = head
        stem = nn.Conv2d(3, 96, 7, stride=2) if version == "1_0" else nn.Conv2d(3, 64, 3, stride=2)
        layers = [stem, nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, ceil_mode=True)]
        for f in V10 if version == "1_0" else V11:
            layers.append(nn.MaxPool2d(3, 2, ceil_mode=True) if f == "pool" else Fire(*f, batchnorm))
        self.features = nn.ModuleList(layers)
        # Simple bypass (Sec. 6): around the Fire modules whose input and output widths match.
        self.bypass = [bypass and isinstance(f, Fire) and f.squeeze[0].in_channels ==
                       2 * f.expand1x1[0].out_channels for f in layers]
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(512, classes, 1),
                                        nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1)))
        for m in self.modules():  # deterministic under torch.manual_seed
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.uniform_(m.bias, -0.1, 0.1)
            if isinstance(m, nn.BatchNorm2d):  # trained-looking statistics, not the identity
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.1, 0.1)

    def forward(self, x):
        for layer, bypass in zip(self.features, self.bypass):
            x = layer(x) + x if bypass else layer(x)
        if self.head == "mean":
            return self.classifier[:3](x).mean((2, 3))
        x = self.classifier(x)
        if self.head == "view":
            return x.view(x.size(0), self.classifier[1].out_channels)
        if self.head == "squeeze":
            return x.squeeze(-1).squeeze(-1)
        return torch.flatten(x, 1)


def export(tmp_path, net, opset, dynamic, size=224, batch=2, keep_batchnorm=False):
    """keep_batchnorm: BatchNormalization nodes as written by TrainingMode.PRESERVE, instead of
    the exporter folding them into the convolutions."""
    torch.manual_seed(opset)
    x = torch.randn(batch, 3, size, size)
    path = tmp_path / f"squeezenet_opset{opset}.onnx"
    axes = {"input": {0: "batch"}, "output": {0: "batch"}} if dynamic else None
    mode = torch.onnx.TrainingMode.PRESERVE if keep_batchnorm else torch.onnx.TrainingMode.EVAL
    torch.onnx.export(net.eval(), x, str(path), input_names=["input"], output_names=["output"],
                      opset_version=opset, dynamic_axes=axes, training=mode,
                      do_constant_folding=not keep_batchnorm)
    with torch.no_grad():
        return path, x.numpy(), net(x).numpy()


def max_rel(got, want):
    return float(np.abs(got - want).max() / np.abs(want).max())


@pytest.mark.parametrize("version", ["1_0", "1_1"])
@pytest.mark.parametrize("opset,dynamic,classes,head", [
    (9, False, 1000, "flatten"), (11, True, 37, "view"), (13, False, 37, "squeeze"),
    (13, True, 1000, "view"), (17, True, 1000, "mean")])
def test_torch_export_runs_as_pytorch_does(tmp_path, version, opset, dynamic, classes, head):
    torch.manual_seed(0)
    path, x, want = export(tmp_path, SqueezeNet(version, classes, head=head), opset, dynamic)
    model = sc.open(path, input_shape=x.shape if dynamic else None)
    assert model.num_classes == classes
    got = model.run(x)
    assert got.shape == want.shape
    assert max_rel(got, want) <= 1e-5


@pytest.mark.parametrize("bypass,batchnorm,keep", [(True, False, False), (False, True, False),
                                                   (False, True, True), (True, True, True)])
def test_bypass_and_batchnorm_exports(tmp_path, bypass, batchnorm, keep):
    torch.manual_seed(1)
    net = SqueezeNet("1_1", 10, bypass=bypass, batchnorm=batchnorm)
    path, x, want = export(tmp_path, net, 13, True, size=227, keep_batchnorm=keep)
    if keep:
        import onnx
        assert any(n.op_type == "BatchNormalization" for n in onnx.load(str(path)).graph.node)
    got = sc.open(path, input_shape=x.shape).run(x)
    assert max_rel(got, want) <= 1e-5


def test_quantized_export_stays_close(tmp_path):
    """8-bit codebooks of a PyTorch export: outputs within a few percent of PyTorch's, and the
    same file's runtime output for every batch size the symbolic batch allows."""
    torch.manual_seed(2)
    path, x, want = export(tmp_path, SqueezeNet("1_1", 1000), 13, True, batch=3)
    out = tmp_path / "q8.sqz"
    sc.quantize(path, out, bits=8, input_shape=list(x.shape))
    model = sc.open(out, input_shape=x.shape)
    got = model.run(x)
    assert max_rel(got, want) <= 0.05
    assert (got.argmax(1) == want.argmax(1)).all()
    one = sc.open(out, input_shape=(1,) + x.shape[1:]).run(x[:1])
    np.testing.assert_allclose(one[0], got[0], rtol=1e-5, atol=1e-6 * np.abs(got).max())


def test_training_mode_export_is_refused(tmp_path):
    """Exported in training mode, BatchNormalization normalizes by the batch and Dropout drops
    at random: no inference computes what the file says, so it is refused, naming the node."""
    torch.manual_seed(3)
    net = SqueezeNet("1_1", 10, batchnorm=True).train()
    path = tmp_path / "train.onnx"
    torch.onnx.export(net, torch.randn(2, 3, 227, 227), str(path), opset_version=13,
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)
    with pytest.raises(sc.Error, match="training mode"):
        sc.open(path)


def test_outputs_that_overflow_float32_are_refused(tmp_path):
    """Finite inputs whose sums pass float32's range: no answer, an error naming the image."""
    conv = nn.Conv2d(2, 3, 1)
    with torch.no_grad():
        conv.weight.fill_(2.0)
        conv.bias.zero_()
    path = tmp_path / "big.onnx"
    torch.onnx.export(conv.eval(), torch.zeros(1, 2, 4, 4), str(path), opset_version=13)
    x = np.full((2, 2, 4, 4), 0.5, np.float32)
    model = sc.open(path, input_shape=x.shape)
    assert np.all(model.run(x) == 2.0)
    x[1, 0, 1, 3] = 3e38
    with pytest.raises(sc.Error, match="output value 7 of image 1 is infinite") as e:
        model.run(x)
    assert e.value.code == "limit"
