// maxpool2d.cu - 2x2 max-pooling with stride 2, forward and backward.
//
// Computes   y[n,c,i,j] = max of the window x[n,c,2i:2i+2, 2j:2j+2], and the window
//            position of that maximum, argmax[n,c,i,j] in {0: top-left, 1: top-right,
//            2: bottom-left, 3: bottom-right}. Ties: the first maximum in that order wins
//            (strict ">" while scanning 0, 1, 2, 3), as in the NumPy reference.
//            NaN: a window holding a NaN gives NaN, and the arg-max is its first NaN in
//            that order (as PyTorch's max_pool2d), so the gradient follows the NaN.
//            Backward is a gather: each input element reads the one output gradient of
//            its window and keeps it only if it is the window's arg-max (no atomics).
// Threads:   forward: one thread per output element (n, c, i, j), flat index over
//            (N, C, oH, oW) with oH = H/2, oW = W/2.
//            backward: one thread per input element (n, c, h, w), flat over (N, C, H, W).
// Launch:    grid = (ceil(total / 256),), block = (256,).
// Matches:   minimal_unet.ops.maxpool2d_forward / maxpool2d_backward
//            (the arg-max is uint8, as in the NumPy cache).
// real_t is #defined (float or double) by the loader in front of this file.

extern "C" __global__ void maxpool2d_forward(const real_t* x, real_t* y, unsigned char* argmax,
                                             int NC, int H, int W)
{
    int oH = H / 2, oW = W / 2;
    int idx = blockIdx.x * blockDim.x + threadIdx.x;  // over (N*C, oH, oW)
    if (idx >= NC * oH * oW) return;
    int j = idx % oW;
    int i = (idx / oW) % oH;
    int nc = idx / (oW * oH);
    const real_t* top = x + ((long long)nc * H + 2 * i) * W + 2 * j;  // x[n, c, 2i, 2j]
    const real_t* bottom = top + W;                                    // x[n, c, 2i+1, 2j]
    real_t window[4] = {top[0], top[1], bottom[0], bottom[1]};
    real_t best = window[0];
    int best_k = 0;
    for (int k = 1; k < 4 && best == best; ++k) {  // stop at the first NaN (NaN != NaN)
        if (window[k] > best || window[k] != window[k]) {  // strict: the first maximum wins a tie
            best = window[k];
            best_k = k;
        }
    }
    y[idx] = best;
    argmax[idx] = best_k;
}

extern "C" __global__ void maxpool2d_backward(const real_t* dy, const unsigned char* argmax, real_t* dx,
                                              int NC, int H, int W)
{
    int oH = H / 2, oW = W / 2;
    int idx = blockIdx.x * blockDim.x + threadIdx.x;  // over (N*C, H, W)
    if (idx >= NC * H * W) return;
    int w = idx % W;
    int h = (idx / W) % H;
    int nc = idx / (W * H);
    int out = (nc * oH + h / 2) * oW + w / 2;  // the window this input element belongs to
    int k = (h % 2) * 2 + (w % 2);             // its position inside the window
    dx[idx] = argmax[out] == k ? dy[out] : real_t(0);
}
