// dropout.cu - inverted dropout with a counter-based hash random number generator.
//
// Computes   u[i] = uniform(seed, i) in [0, 1): the top 24 bits of splitmix64(seed + (i+1)*G),
//            G = 0x9E3779B97F4A7C15, times 2^-24 (exact in float and double);
//            keep[i] = u[i] >= p (a bool, the cache of the NumPy reference), scale = 1/(1-p);
//            forward:  y[i] = (x[i] * keep[i]) * scale;  backward: dx[i] = (dy[i] * keep[i]) * scale
//            (the NumPy reference's order of operations: the same bits, NaN * 0 = NaN included).
//            Each element's random number depends only on (seed, i), not on the launch
//            shape or the thread that computes it, so the mask is reproducible and has an
//            exact NumPy twin (minimal_unet.backends.cupy_backend.dropout_keep_mask).
// Threads:   one thread per element, i = blockIdx.x * blockDim.x + threadIdx.x.
// Launch:    grid = (ceil(total / 256),), block = (256,).
// Matches:   minimal_unet.ops.dropout_forward / dropout_backward in distribution (inverted
//            dropout, E[y] = x); bit for bit: cupy_backend.dropout_keep_mask.
// real_t is #defined (float or double) by the loader in front of this file.

__device__ __forceinline__ unsigned long long splitmix64(unsigned long long z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

extern "C" __global__ void dropout_forward(const real_t* x, real_t* y, bool* keep,
                                           unsigned long long seed, double p, real_t scale,
                                           int total)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    unsigned long long bits = splitmix64(seed + (unsigned long long)(i + 1) * 0x9E3779B97F4A7C15ULL);
    double u = (double)(bits >> 40) * (1.0 / 16777216.0);  // 24 random bits -> [0, 1)
    bool k = u >= p;
    keep[i] = k;
    y[i] = (x[i] * real_t(k)) * scale;
}

extern "C" __global__ void dropout_backward(const real_t* dy, const bool* keep, real_t* dx,
                                            real_t scale, int total)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    dx[i] = (dy[i] * real_t(keep[i])) * scale;  // dL/dx = dL/dy * keep / (1 - p)
}
