// conv2d_direct.cu - a direct convolution (forward) with a shared-memory input tile.
//
// For reading and comparison with the im2col + cuBLAS path (im2col.cu): no cols matrix,
// each block stages the input patch it needs in shared memory, one channel at a time.
// Computes   y[n,f,oh,ow] = b[f] + sum_{c,ki,kj} x[n, c, oh+ki-pad, ow+kj-pad] * w[f,c,ki,kj]
//            (x is 0 in the padding), oH = H + 2*pad - kH + 1, oW = W + 2*pad - kW + 1.
// Threads:   a block of TILE x TILE threads computes a TILE x TILE tile of one output map:
//            ow = blockIdx.x*TILE + threadIdx.x, oh = blockIdx.y*TILE + threadIdx.y,
//            blockIdx.z = n*F + f. Per input channel c the block
//              1. copies the (TILE+kH-1) x (TILE+kW-1) input patch and w[f,c] to shared
//                 memory (every thread copies a strided share of it),
//              2. __syncthreads(): the patch is complete,
//              3. every thread adds its kH*kW products from shared memory,
//              4. __syncthreads(): nobody overwrites the patch while others still read it.
//            Threads of an edge tile that have no output still copy and reach every
//            barrier; they only skip the final write.
// Launch:    grid = (ceil(oW/TILE), ceil(oH/TILE), N*F), block = (TILE, TILE) = (16, 16);
//            needs kH, kW <= DIRECT_MAX_K (5); the launcher checks it.
// Matches:   minimal_unet.ops.conv2d_forward.
// real_t is #defined (float or double) by the loader in front of this file.

#define TILE 16
#define DIRECT_MAX_K 5
#define PATCH (TILE + DIRECT_MAX_K - 1)

extern "C" __global__ void conv2d_direct_forward(const real_t* x, const real_t* w,
                                                 const real_t* b, real_t* y, int N, int C,
                                                 int H, int W, int F, int kH, int kW, int pad)
{
    __shared__ real_t patch[PATCH][PATCH];
    __shared__ real_t wk[DIRECT_MAX_K][DIRECT_MAX_K];
    int oH = H + 2 * pad - kH + 1, oW = W + 2 * pad - kW + 1;
    int tx = threadIdx.x, ty = threadIdx.y;
    int ow = blockIdx.x * TILE + tx, oh = blockIdx.y * TILE + ty;
    int n = blockIdx.z / F, f = blockIdx.z % F;
    int h0 = blockIdx.y * TILE - pad, w0 = blockIdx.x * TILE - pad;  // patch origin in x
    int pH = TILE + kH - 1, pW = TILE + kW - 1;                      // patch size
    int t = ty * TILE + tx;
    real_t sum = b[f];
    for (int c = 0; c < C; ++c) {
        const real_t* xc = x + ((long long)n * C + c) * H * W;  // x[n, c]
        for (int p = t; p < pH * pW; p += TILE * TILE) {        // 1. stage the patch
            int ph = p / pW, pw = p % pW;
            int h = h0 + ph, ww = w0 + pw;
            bool inside = h >= 0 && h < H && ww >= 0 && ww < W;
            patch[ph][pw] = inside ? xc[h * W + ww] : real_t(0);
        }
        if (t < kH * kW) wk[t / kW][t % kW] = w[((f * C + c) * kH + t / kW) * kW + t % kW];
        __syncthreads();                                         // 2.
        for (int ki = 0; ki < kH; ++ki)                          // 3.
            for (int kj = 0; kj < kW; ++kj)
                sum += patch[ty + ki][tx + kj] * wk[ki][kj];
        __syncthreads();                                         // 4.
    }
    if (oh < oH && ow < oW) y[(((long long)n * F + f) * oH + oh) * oW + ow] = sum;
}
