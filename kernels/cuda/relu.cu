// relu.cu - ReLU forward and backward, elementwise.
//
// Computes   relu_forward:  y[i]  = max(x[i], 0), NaN stays NaN (as NumPy's np.maximum
//                          and PyTorch's relu)
//            relu_backward: dx[i] = dy[i] if y[i] > 0 else 0   (the cache holds y, not x)
// Threads:   one thread per element; i = blockIdx.x * blockDim.x + threadIdx.x over the
//            flat C-order array of `total` elements (N*C*H*W).
// Launch:    grid = (ceil(total / 256),), block = (256,).
// Matches:   minimal_unet.ops.relu_forward / relu_backward.
// real_t is #defined (float or double) by the loader in front of this file.

extern "C" __global__ void relu_forward(const real_t* x, real_t* y, int total)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    real_t v = x[i];
    y[i] = (v > real_t(0) || v != v) ? v : real_t(0);  // v != v: v is NaN
}

extern "C" __global__ void relu_backward(const real_t* dy, const real_t* y, real_t* dx, int total)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    dx[i] = y[i] > real_t(0) ? dy[i] : real_t(0);  // dL/dx = dL/dy * 1[x > 0]
}
