// im2col.cu - the two data-movement kernels of a convolution computed as matrix products.
//
// Shapes:    x (N, C, H, W), zero padding `pad` on each side, kernel kH x kW, stride 1,
//            oH = H + 2*pad - kH + 1, oW = W + 2*pad - kW + 1, K = C*kH*kW, S = oH*oW.
// Computes   im2col: cols[n, (c*kH + ki)*kW + kj, oh*oW + ow] = x[n, c, oh+ki-pad, ow+kj-pad]
//                    (0 where that index falls in the padding), cols of shape (N, K, S).
//                    The convolution is then y[n] = w.reshape(F, K) @ cols[n]  (cuBLAS).
//            col2im: the adjoint of im2col, written as a gather: every input element sums
//                    the dcols entries that were copied from it,
//                    dx[n,c,h,w] = sum_{ki,kj} dcols[n, (c*kH+ki)*kW+kj, oh*oW+ow]
//                    with oh = h+pad-ki, ow = w+pad-kj inside [0,oH) x [0,oW).
//                    Each thread writes its own element, so no atomics are needed and the
//                    sum order (ki, then kj) is fixed: the result is deterministic.
// Threads:   im2col: one thread per cols element, flat over (N, K, S) (S fastest, so
//            neighbouring threads write neighbouring columns).
//            col2im: one thread per dx element, flat over (N, C, H, W).
// Launch:    grid = (ceil(total / 256),), block = (256,).
// Matches:   the im2col / col2im steps inside minimal_unet.ops.conv2d_forward / _backward.
// real_t is #defined (float or double) by the loader in front of this file.

extern "C" __global__ void im2col(const real_t* x, real_t* cols, int N, int C, int H, int W,
                                  int kH, int kW, int pad)
{
    int oH = H + 2 * pad - kH + 1, oW = W + 2 * pad - kW + 1;
    int K = C * kH * kW, S = oH * oW;
    int idx = blockIdx.x * blockDim.x + threadIdx.x;  // over (N, K, S)
    if (idx >= N * K * S) return;
    int s = idx % S;
    int k = (idx / S) % K;
    int n = idx / (S * K);
    int ow = s % oW, oh = s / oW;
    int kj = k % kW, ki = (k / kW) % kH, c = k / (kW * kH);
    int h = oh + ki - pad, w = ow + kj - pad;  // input row/column this entry copies
    bool inside = h >= 0 && h < H && w >= 0 && w < W;
    cols[idx] = inside ? x[((n * C + c) * H + h) * W + w] : real_t(0);
}

extern "C" __global__ void col2im(const real_t* dcols, real_t* dx, int N, int C, int H, int W,
                                  int kH, int kW, int pad)
{
    int oH = H + 2 * pad - kH + 1, oW = W + 2 * pad - kW + 1;
    int K = C * kH * kW, S = oH * oW;
    int idx = blockIdx.x * blockDim.x + threadIdx.x;  // over (N, C, H, W)
    if (idx >= N * C * H * W) return;
    int w = idx % W;
    int h = (idx / W) % H;
    int c = (idx / (W * H)) % C;
    int n = idx / (W * H * C);
    real_t sum = 0;
    for (int ki = 0; ki < kH; ++ki) {
        int oh = h + pad - ki;
        if (oh < 0 || oh >= oH) continue;
        for (int kj = 0; kj < kW; ++kj) {
            int ow = w + pad - kj;
            if (ow < 0 || ow >= oW) continue;
            int k = (c * kH + ki) * kW + kj;
            sum += dcols[((long long)n * K + k) * S + oh * oW + ow];
        }
    }
    dx[idx] = sum;
}
