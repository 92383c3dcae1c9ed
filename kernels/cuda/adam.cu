// adam.cu - the fused Adam update (Kingma & Ba 2015), in place.
//
// Computes   m[i] = b1 * m[i] + (1 - b1) * g[i]          v[i] = b2 * v[i] + (1 - b2) * g[i]^2
//            param[i] -= lr * (m[i] / c1) / (sqrt(v[i] / c2) + eps)
//            with c1 = 1 - b1^t, c2 = 1 - b2^t (t = 1, 2, ...) computed once on the host,
//            one pass over the four arrays instead of the many passes of the NumPy code.
// Threads:   one thread per parameter element, i = blockIdx.x * blockDim.x + threadIdx.x.
// Launch:    grid = (ceil(total / 256),), block = (256,).
// Matches:   minimal_unet.optim.adam_update.
// real_t is #defined (float or double) by the loader in front of this file.

extern "C" __global__ void adam(real_t* param, const real_t* grad, real_t* m, real_t* v,
                                real_t lr, real_t b1, real_t one_minus_b1, real_t b2,
                                real_t one_minus_b2, real_t c1, real_t c2, real_t eps, int total)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    real_t g = grad[i];
    real_t mi = b1 * m[i] + one_minus_b1 * g;
    real_t vi = b2 * v[i] + one_minus_b2 * (g * g);
    m[i] = mi;
    v[i] = vi;
    param[i] -= lr * (mi / c1) / (sqrt(vi / c2) + eps);
}
