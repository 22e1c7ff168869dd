/**
 * The PyTorch side of the benchmark: the same jobs in PyTorch, on the CPU with one thread or on a
 * CUDA device (the program's one argument, `cpu` or `cuda`), run by `/usr/bin/python3` (where
 * Debian's `apt-get install python3-torch` puts torch), as a server the bench keeps open so that
 * PyTorch and polyak runs can alternate. It prints one JSON line `{version, device, deviceName,
 * copyBytes, jobs: [names]}` (or `{error}` when the device is missing), then answers each request
 * line `{job, warmup, repeats}` with `{job, ms: [...]}` (or `{error}`). On CUDA every timing is
 * fenced by `torch.cuda.synchronize()`. The job `copy` copies one 256 MiB tensor into another
 * (`copyBytes` read and written): the device's practical memory bandwidth.
 *
 * @module bench/torch
 */

/** The Python program (kept as a string so the benchmark needs no file outside the package). */
export const TORCH_SCRIPT = String.raw`
import json, math, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F
torch.set_num_threads(1)
torch.manual_seed(0)
dev = torch.device(sys.argv[1] if len(sys.argv) > 1 else "cpu")
if dev.type == "cuda" and not torch.cuda.is_available():
    print(json.dumps({"error": "CUDA is not available to this PyTorch " + torch.__version__ + " (torch.cuda.is_available() is False)"}), flush=True)
    sys.exit(0)

def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize()

def timeit(fn, warmup=2, repeats=7):
    for _ in range(warmup):
        fn()
    xs = []
    for _ in range(repeats):
        sync()
        s = time.perf_counter()
        fn()
        sync()
        xs.append((time.perf_counter() - s) * 1000)
    return xs

def resnet18_shapes():
    shapes = [(64, 3, 7, 7), (64,), (64,)]
    def stage(cin, cout, down):
        shapes.extend([(cout, cin, 3, 3), (cout,), (cout,), (cout, cout, 3, 3), (cout,), (cout,)])
        if down:
            shapes.extend([(cout, cin, 1, 1), (cout,), (cout,)])
        shapes.extend([(cout, cout, 3, 3), (cout,), (cout,), (cout, cout, 3, 3), (cout,), (cout,)])
    stage(64, 64, False); stage(64, 128, True); stage(128, 256, True); stage(256, 512, True)
    shapes.extend([(1000, 512), (1000,)])
    return shapes

def resnet50_shapes():
    shapes = [(64, 3, 7, 7), (64,), (64,)]
    def block(cin, mid, cout, down):
        shapes.extend([(mid, cin, 1, 1), (mid,), (mid,), (mid, mid, 3, 3), (mid,), (mid,), (cout, mid, 1, 1), (cout,), (cout,)])
        if down:
            shapes.extend([(cout, cin, 1, 1), (cout,), (cout,)])
    def layer(cin, mid, cout, n):
        block(cin, mid, cout, True)
        for _ in range(1, n):
            block(cout, mid, cout, False)
    layer(64, 64, 256, 3); layer(256, 128, 512, 4); layer(512, 256, 1024, 6); layer(1024, 512, 2048, 3)
    shapes.extend([(1000, 2048), (1000,)])
    return shapes

jobs = {}
for name, shapes in (("ema_resnet18", resnet18_shapes()), ("ema_resnet50", resnet50_shapes())):
    teacher = [torch.randn(s, device=dev) for s in shapes]
    student = [torch.randn(s, device=dev) for s in shapes]
    d = 0.999
    def ema(teacher=teacher, student=student, d=d):
        torch._foreach_mul_(teacher, d)
        torch._foreach_add_(teacher, student, alpha=1 - d)
    jobs[name] = ema

bn = nn.BatchNorm2d(64).to(dev).train()
x = torch.randn(64, 64, 32, 32, device=dev)
def bn_forward():
    with torch.no_grad():
        bn(x)
jobs["bn_forward"] = bn_forward

convs = [torch.randn(s, device=dev) for s in resnet18_shapes() if len(s) == 4]
gammas = [torch.ones(w.shape[0], device=dev) for w in convs]
def weightalign():
    out = []
    for w, g in zip(convs, gammas):
        f = w.reshape(w.shape[0], -1)
        n = f.shape[1]
        var, mean = torch.var_mean(f, dim=1, unbiased=False, keepdim=True)
        out.append(((f - mean) * (g.view(-1, 1) * math.sqrt(2.0) / torch.sqrt(n * (var + 1e-5)))).reshape_as(w))
    return out
def weightalign_no_grad():
    with torch.no_grad():
        weightalign()
jobs["weightalign_resnet18"] = weightalign_no_grad

class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 3, padding=1, bias=False); self.b1 = nn.BatchNorm2d(32)
        self.c2 = nn.Conv2d(32, 64, 3, padding=1, bias=False); self.b2 = nn.BatchNorm2d(64)
        self.fc = nn.Linear(64, 10)
    def forward(self, x):
        x = F.avg_pool2d(F.relu(self.b1(self.c1(x))), 2)
        x = F.avg_pool2d(F.relu(self.b2(self.c2(x))), 2)
        return self.fc(x.mean(dim=(2, 3)))
net = CNN().to(dev)
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
xb = torch.randn(64, 1, 28, 28, device=dev)
yb = torch.arange(64, device=dev) % 10
def step():
    opt.zero_grad()
    F.cross_entropy(net(xb), yb).backward()
    opt.step()
jobs["cnn_step"] = step

class Block(nn.Module):
    def __init__(self, cin, c, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False); self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False); self.bn2 = nn.BatchNorm2d(c)
        self.short = None if stride == 1 and cin == c else nn.Sequential(nn.Conv2d(cin, c, 1, stride, bias=False), nn.BatchNorm2d(c))
    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (x if self.short is None else self.short(x)))
class ResNet20(nn.Module):
    def __init__(self, w=16, n=3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU())
        layers, cin = [], w
        for k, c in enumerate([w, 2 * w, 4 * w]):
            for i in range(n):
                layers.append(Block(cin, c, 2 if i == 0 and k > 0 else 1)); cin = c
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, 10)
    def forward(self, x):
        return self.fc(self.layers(self.stem(x)).mean(dim=(2, 3)))
rnet = ResNet20().to(dev)
ropt = torch.optim.SGD(rnet.parameters(), lr=0.01, momentum=0.9)
rx = torch.randn(64, 3, 32, 32, device=dev)
def resnet_step():
    ropt.zero_grad()
    F.cross_entropy(rnet(rx), yb).backward()
    ropt.step()
jobs["resnet20_step"] = resnet_step

src = torch.zeros(64 * 1024 * 1024, device=dev)
dst = torch.empty_like(src)
jobs["copy"] = lambda: dst.copy_(src)

name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU, 1 thread"
print(json.dumps({"version": torch.__version__, "device": str(dev), "deviceName": name, "copyBytes": 2 * src.numel() * 4, "jobs": sorted(jobs)}), flush=True)
for line in sys.stdin:
    try:
        req = json.loads(line)
        print(json.dumps({"job": req["job"], "ms": timeit(jobs[req["job"]], req.get("warmup", 1), req.get("repeats", 3))}), flush=True)
    except Exception as e:
        print(json.dumps({"error": repr(e)}), flush=True)
`
