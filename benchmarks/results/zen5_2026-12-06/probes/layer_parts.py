import sys, time, statistics, os
sys.path.insert(0, "/work/main")
import numpy as np, torch
from minimal_unet import memory
memory.keep_freed_memory()
from minimal_unet.ops import conv2d as cv
torch.set_num_threads(2)
def t(f, rep=7):
    f(); ts=[]
    for _ in range(rep):
        a=time.perf_counter(); f(); ts.append(time.perf_counter()-a)
    return statistics.median(ts)
layers = [(32,32,390),(32,32,570),(64,64,198),(64,64,282),(32,64,284),(64,128,140),(128,128,102),(128,128,138)]
if len(sys.argv)>1: layers=[tuple(map(int,s.split(","))) for s in sys.argv[1:]]
rng=np.random.default_rng(0)
for C,F,H in layers:
    x=rng.standard_normal((1,C,H,H),dtype=np.float32); w=rng.standard_normal((F,C,3,3),dtype=np.float32)*0.1; b=np.zeros(F,np.float32)
    y,cache=cv.conv2d_forward(x,w,b); dy=rng.standard_normal(y.shape,dtype=np.float32)
    fw=t(lambda: cv.conv2d_forward(x,w,b))
    bw=t(lambda: cv.conv2d_backward(dy,cache))
    bwn=t(lambda: cv.conv2d_backward(dy,cache,need_dx=False))
    xt=torch.from_numpy(x).requires_grad_(); wt=torch.from_numpy(w).requires_grad_(); bt=torch.from_numpy(b).requires_grad_(); dyt=torch.from_numpy(dy)
    tf=t(lambda: torch.nn.functional.conv2d(xt.detach(),wt.detach(),bt.detach()))
    def tb():
        yy=torch.nn.functional.conv2d(xt,wt,bt); torch.autograd.grad(yy,(xt,wt,bt),dyt)
    tfb=t(tb)
    fl=2*F*C*9*(H-2)**2/1e9
    print(f"{C}->{F}@{H}: ours fwd {fw*1e3:.1f} dw {bwn*1e3:.1f} dx {(bw-bwn)*1e3:.1f} total {(fw+bw)*1e3:.1f} | torch fwd {tf*1e3:.1f} f+b {tfb*1e3:.1f} | ratio {(fw+bw)/tfb:.2f}  ours fwd GF/s {fl/fw:.0f} torch fwd {fl/tf:.0f}", flush=True)
