// crop_concat.cu - centre-crop the skip connection and concatenate it with the up-sampled map.
//
// Shapes:    skip (N, Cs, Hs, Ws), up (N, Cu, Hu, Wu), y (N, Cs + Cu, Hu, Wu);
//            top = (Hs - Hu) / 2, left = (Ws - Wu) / 2 (the launcher checks evenness).
// Computes   forward:  y[n, c, h, w] = skip[n, c, top+h, left+w]   for c <  Cs
//                      y[n, c, h, w] = up[n, c-Cs, h, w]           for c >= Cs
//            backward: dskip[n, c, hs, ws] = dy[n, c, hs-top, ws-left] inside the crop,
//                      0 outside it (dskip has skip's full shape);
//                      dup[n, c, h, w] = dy[n, Cs + c, h, w].
// Threads:   one thread per element written: forward over (N, Cs+Cu, Hu, Wu), backward one
//            launch over (N, Cs, Hs, Ws) for dskip and one over (N, Cu, Hu, Wu) for dup.
// Launch:    grid = (ceil(total / 256),), block = (256,).
// Matches:   minimal_unet.ops.crop_and_concat_forward / crop_and_concat_backward.
// real_t is #defined (float or double) by the loader in front of this file.

extern "C" __global__ void crop_concat_forward(const real_t* skip, const real_t* up, real_t* y,
                                               int N, int Cs, int Hs, int Ws, int Cu, int Hu,
                                               int Wu)
{
    int C = Cs + Cu;
    int idx = blockIdx.x * blockDim.x + threadIdx.x;  // over (N, Cs+Cu, Hu, Wu)
    if (idx >= N * C * Hu * Wu) return;
    int w = idx % Wu;
    int h = (idx / Wu) % Hu;
    int c = (idx / (Wu * Hu)) % C;
    int n = idx / (Wu * Hu * C);
    int top = (Hs - Hu) / 2, left = (Ws - Wu) / 2;
    if (c < Cs)
        y[idx] = skip[((n * Cs + c) * Hs + top + h) * Ws + left + w];
    else
        y[idx] = up[((n * Cu + (c - Cs)) * Hu + h) * Wu + w];
}

extern "C" __global__ void crop_concat_backward_skip(const real_t* dy, real_t* dskip, int N,
                                                     int Cs, int Hs, int Ws, int Cu, int Hu,
                                                     int Wu)
{
    int C = Cs + Cu;
    int idx = blockIdx.x * blockDim.x + threadIdx.x;  // over (N, Cs, Hs, Ws)
    if (idx >= N * Cs * Hs * Ws) return;
    int ws = idx % Ws;
    int hs = (idx / Ws) % Hs;
    int c = (idx / (Ws * Hs)) % Cs;
    int n = idx / (Ws * Hs * Cs);
    int h = hs - (Hs - Hu) / 2, w = ws - (Ws - Wu) / 2;  // position inside the crop
    bool inside = h >= 0 && h < Hu && w >= 0 && w < Wu;
    dskip[idx] = inside ? dy[((n * C + c) * Hu + h) * Wu + w] : real_t(0);
}

extern "C" __global__ void crop_concat_backward_up(const real_t* dy, real_t* dup, int N, int Cs,
                                                   int Cu, int Hu, int Wu)
{
    int C = Cs + Cu;
    int idx = blockIdx.x * blockDim.x + threadIdx.x;  // over (N, Cu, Hu, Wu)
    if (idx >= N * Cu * Hu * Wu) return;
    int hw = idx % (Hu * Wu);
    int c = (idx / (Hu * Wu)) % Cu;
    int n = idx / (Hu * Wu * Cu);
    dup[idx] = dy[(n * C + Cs + c) * Hu * Wu + hw];
}
