#!/usr/bin/env python3
"""The PyTorch + timm reference with one recipe detail switched to the project's, flag by flag.

Derived from ../shared/reference/torch_train.py (same data layout, loop, schedule, evaluation and
last-line JSON; with no flag it is that script, bit for bit on the same machine). Each flag below
changes exactly one detail, from timm's / torch's default to what the project's trainer does
(src/train/adamw.ts, src/models/layers/*.ts, src/models/mobilenet.ts, src/models/mobilevit.ts);
parity runs change one at a time (scripts/parity/variants.sh):

  --decay kernels       AdamW weight decay only on weight matrices and conv kernels (params with
                        ndim > 1), as the project's AdamW (`/kernel$/`); default `all`, as
                        torch.optim.AdamW on model.parameters() (BN gamma/beta and biases decayed too).
  --conv-init project   every conv weight as tfjs's heNormal: a normal truncated at 2 sd (no variance
                        correction), sd sqrt(2 / fan_in) with Keras's fan_in = k*k*in_channels, also
                        for depthwise convs (Keras counts a depthwise kernel [k,k,cin,1] as fan_in
                        k*k*cin); conv biases 0. Default `timm`: normal, sd sqrt(2 / fan_out),
                        fan_out = k*k*out_channels/groups.
  --linear-init project every nn.Linear (the classifier; MobileViT's attention and MLP too) Glorot
                        uniform, limit sqrt(6 / (fan_in + fan_out)), bias 0, as the project's dense
                        layers. Default `timm`: MobileNetV2 uniform +-1/sqrt(fan_out) (+-0.5 for 4
                        classes); MobileViT normal sd 0.01.
  --zero-init-last off  MobileViT: keep BN gamma = 1 on the last BN of each residual inverted
                        bottleneck, as the project; timm zero-initialises it (default `timm`).
  --pad same            MobileNetV2: TensorFlow's 'same' padding (asymmetric on stride 2: 0 before,
                        1 after), as the project's convs (timm's pad_type='same'); default: timm's
                        symmetric padding 1.
  --adam-eps E          Adam's epsilon (project: 1e-7, tf.train.adam's; torch's default 1e-8).
  --bn-momentum M       every BatchNorm2d's momentum in torch's convention (Keras momentum = 1 - M);
  --bn-eps E            and epsilon. Default: timm's (0.1, 1e-5), which is also what the project's
                        convBn uses (Keras momentum 0.9, epsilon 1e-5).

Inputs (/255), the head (global average pool, one linear layer), the loss, the cosine schedule
and the batch order are the reference's and identical to the project's; no flag changes them.

    python torch_train_variant.py --data DIR --model mobilenetv2_100 --images 100000 --batch 128 \
        --lr 2e-3 --wd 0.05 --seed 0 --threads 1 --curve --decay kernels

Last line: torch_train.py's JSON object plus "variant" (the flags that differ from the defaults).
"""
import argparse, json, math, os, time

import numpy as np
import timm
import torch


def load(data, split):
    x = os.path.join(data, f"{split}_x.npy")
    if not os.path.exists(x):
        return None
    X = np.load(x, mmap_mode="r")
    Y = np.load(os.path.join(data, f"{split}_y.npy"))
    if X.ndim != 4 or X.shape[3] != 3 or X.dtype != np.uint8 or len(Y) != len(X):
        raise SystemExit(f"{split}: want uint8 [N,H,W,3] and N labels, got {X.dtype} {X.shape} and {len(Y)}")
    return X, Y.astype(np.int64)


def to_tensor(X):
    return torch.from_numpy(np.array(X, dtype=np.uint8, copy=True)).permute(0, 3, 1, 2).float().div_(255)


@torch.no_grad()
def accuracy(model, X, Y, limit=None, bs=512):
    model.eval()
    n = len(X) if limit is None else min(limit, len(X))
    hit = 0
    for k in range(0, n, bs):
        hit += int((model(to_tensor(X[k:k + bs])).argmax(1).numpy() == Y[k:k + bs]).sum())
    model.train()
    return hit / n


def truncated_normal_(w, sd):
    """tfjs's truncatedNormal: normal(0, sd) redrawn outside 2 sd, no rescaling of the variance."""
    torch.nn.init.trunc_normal_(w, mean=0.0, std=sd, a=-2 * sd, b=2 * sd)


@torch.no_grad()
def project_conv_init(model):
    n = 0
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            fan_in = m.kernel_size[0] * m.kernel_size[1] * m.in_channels  # Keras's, depthwise too
            truncated_normal_(m.weight, math.sqrt(2.0 / fan_in))
            if m.bias is not None:
                m.bias.zero_()
            n += 1
    return n


@torch.no_grad()
def project_linear_init(model):
    n = 0
    for m in model.modules():
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                m.bias.zero_()
            n += 1
    return n


@torch.no_grad()
def undo_zero_init_last(model):
    """timm's ByobNet zero-initialises the last BN of residual blocks; put gamma back to 1."""
    n = 0
    for m in model.modules():
        if type(m).__name__ == "BottleneckBlock" and m.shortcut is not None:
            bn = getattr(m.conv3_1x1, "bn", None)
            if bn is not None and bn.weight is not None and bool((bn.weight == 0).all()):
                bn.weight.fill_(1.0)
                n += 1
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", default="mobilenetv2_100")
    ap.add_argument("--images", type=int, required=True, help="training images to see (the budget)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--warmup-images", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--curve", action="store_true", help="test accuracy at log-spaced image counts")
    ap.add_argument("--decay", choices=["all", "kernels"], default="all")
    ap.add_argument("--conv-init", choices=["timm", "project"], default="timm")
    ap.add_argument("--linear-init", choices=["timm", "project"], default="timm")
    ap.add_argument("--zero-init-last", choices=["timm", "off"], default="timm")
    ap.add_argument("--pad", choices=["timm", "same"], default="timm")
    ap.add_argument("--adam-eps", type=float, default=1e-8)
    ap.add_argument("--bn-momentum", type=float, default=None)
    ap.add_argument("--bn-eps", type=float, default=None)
    a = ap.parse_args()
    defaults = ap.parse_args(["--data", a.data, "--images", str(a.images)])
    variant = {k: v for k, v in vars(a).items()
               if k in ("decay", "conv_init", "linear_init", "zero_init_last", "pad", "adam_eps", "bn_momentum", "bn_eps")
               and v != getattr(defaults, k)}
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    Xtr, Ytr = load(a.data, "train")
    Xte, Yte = load(a.data, "test")
    classes = int(max(Ytr.max(), Yte.max())) + 1
    kwargs = {}
    if a.pad == "same":
        if not a.model.startswith("mobilenetv2"):
            raise SystemExit(f"--pad same: only for timm's EfficientNet-family models (mobilenetv2_*), not {a.model}")
        kwargs["pad_type"] = "same"
    model = timm.create_model(a.model, num_classes=classes, pretrained=False, **kwargs)
    # Re-initialisations draw after timm's own, from the same torch seed: one change at a time.
    touched = {}
    if a.conv_init == "project":
        touched["conv_init"] = project_conv_init(model)
    if a.linear_init == "project":
        touched["linear_init"] = project_linear_init(model)
    if a.zero_init_last == "off":
        if not a.model.startswith("mobilevit"):
            raise SystemExit(f"--zero-init-last off: only timm's MobileViT zero-initialises, not {a.model}")
        touched["zero_init_last"] = undo_zero_init_last(model)
        if not touched["zero_init_last"]:
            raise SystemExit("--zero-init-last off: found no zero-initialised residual BN")
    if a.bn_momentum is not None or a.bn_eps is not None:
        n = 0
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                if a.bn_momentum is not None:
                    m.momentum = a.bn_momentum
                if a.bn_eps is not None:
                    m.eps = a.bn_eps
                n += 1
        touched["batchnorm"] = n
    if a.decay == "kernels":
        decay = [p for p in model.parameters() if p.ndim > 1]
        rest = [p for p in model.parameters() if p.ndim <= 1]
        groups = [{"params": decay, "weight_decay": a.wd}, {"params": rest, "weight_decay": 0.0}]
        touched["decayed_tensors"] = len(decay)
        touched["undecayed_tensors"] = len(rest)
    else:
        groups = model.parameters()
    opt = torch.optim.AdamW(groups, a.lr, weight_decay=a.wd, eps=a.adam_eps)
    if touched:
        print(f"variant {variant}: {touched}", flush=True)
    steps = max(1, a.images // a.batch)
    marks = sorted({min(steps, int(round(10 ** e))) for e in np.arange(2, 8.01, 0.25)} | {steps}) if a.curve else [steps]
    marks = [m for m in marks if m >= 1 and m * a.batch >= 1000 or m == steps]
    curve, step, t0 = [], 0, time.perf_counter()
    train_s = 0.0
    model.train()
    while step < steps:
        order = rng.permutation(len(Xtr))
        for k in range(0, len(order) - a.batch + 1, a.batch):
            if step >= steps:
                break
            seen = step * a.batch
            warm = a.warmup_images
            lr = a.lr * seen / warm if seen < warm else a.lr * 0.5 * (1 + math.cos(math.pi * (seen - warm) / max(1, a.images - warm)))
            for g in opt.param_groups:
                g["lr"] = lr
            b = np.sort(order[k:k + a.batch])
            t = time.perf_counter()
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(to_tensor(Xtr[b])), torch.from_numpy(Ytr[b])).backward()
            opt.step()
            train_s += time.perf_counter() - t
            step += 1
            if step in marks:
                acc = accuracy(model, Xte, Yte)
                curve.append([step * a.batch, round(acc, 4)])
                print(f"images {step * a.batch}: test {acc:.4f} ({train_s:.0f} s training)", flush=True)
    out = {
        "model": a.model, "seed": a.seed, "images": steps * a.batch, "batch": a.batch, "lr": a.lr, "wd": a.wd,
        "test_acc": curve[-1][1], "train_acc": round(accuracy(model, Xtr, Ytr, limit=4096), 4),
        "seconds": round(time.perf_counter() - t0, 1), "images_per_s": round(steps * a.batch / train_s, 1),
        "threads": a.threads, "torch": torch.__version__, "curve": curve, "variant": variant,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
