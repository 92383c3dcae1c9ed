// upconv2d.cu - the two rearrangement kernels of the 2x2 stride-2 up-convolution.
//
// The up-convolution y[n,o,2i+a,2j+c] = b[o] + sum_ci x[n,ci,i,j] w[ci,o,a,c] is a matrix
// product followed by a rearrangement ("depth to space"):
//     cols[n] = w.reshape(Ci, Co*4).T @ x[n].reshape(Ci, H*W)       # (Co*4, H*W), cuBLAS
//     y[n, o, 2i+a, 2j+c] = b[o] + cols[n, (o*2 + a)*2 + c, i*W + j]  # upconv_scatter
// and its backward starts with the inverse rearrangement ("space to depth"):
//     dcols[n, (o*2 + a)*2 + c, i*W + j] = dy[n, o, 2i+a, 2j+c]       # upconv_gather
//     dx[n] = w.reshape(Ci, Co*4) @ dcols[n];  dw = sum_n x[n] @ dcols[n].T  (cuBLAS)
// Both kernels are one thread per element they write (each reads exactly one element):
// no atomics, no overlap, because stride 2 with a 2x2 kernel tiles the output exactly.
// Threads:   upconv_scatter: one thread per y element, flat over (N, Co, 2H, 2W).
//            upconv_gather:  one thread per dy element, flat over (N, Co, 2H, 2W).
// Launch:    grid = (ceil(N*Co*4*H*W / 256),), block = (256,).
// Matches:   minimal_unet.ops.upconv2d_forward / upconv2d_backward.
// real_t is #defined (float or double) by the loader in front of this file.

extern "C" __global__ void upconv_scatter(const real_t* cols, const real_t* b, real_t* y,
                                          int N, int Co, int H, int W)
{
    int idx = blockIdx.x * blockDim.x + threadIdx.x;  // over (N, Co, 2H, 2W)
    if (idx >= N * Co * 4 * H * W) return;
    int yw = idx % (2 * W);
    int yh = (idx / (2 * W)) % (2 * H);
    int o = (idx / (4 * H * W)) % Co;
    int n = idx / (4 * H * W * Co);
    int i = yh / 2, a = yh % 2, j = yw / 2, c = yw % 2;
    int row = (o * 2 + a) * 2 + c;  // row of cols holding w[:, o, a, c] . x[n, :, i, j]
    y[idx] = b[o] + cols[((long long)n * Co * 4 + row) * H * W + i * W + j];
}

extern "C" __global__ void upconv_gather(const real_t* dy, real_t* dcols, int N, int Co, int H,
                                         int W)
{
    int idx = blockIdx.x * blockDim.x + threadIdx.x;  // over (N, Co, 2H, 2W), as dy
    if (idx >= N * Co * 4 * H * W) return;
    int yw = idx % (2 * W);
    int yh = (idx / (2 * W)) % (2 * H);
    int o = (idx / (4 * H * W)) % Co;
    int n = idx / (4 * H * W * Co);
    int i = yh / 2, a = yh % 2, j = yw / 2, c = yw % 2;
    int row = (o * 2 + a) * 2 + c;
    dcols[((long long)n * Co * 4 + row) * H * W + i * W + j] = dy[idx];
}
