// sgd_momentum.cu - the fused SGD-with-momentum update (Caffe's SGD), in place.
//
// Computes   velocity[i] = momentum * velocity[i] - lr * grad[i]
//            param[i]   += velocity[i]
//            one pass over the three arrays instead of the three passes of the NumPy
//            expression.
// Threads:   one thread per parameter element, i = blockIdx.x * blockDim.x + threadIdx.x.
// Launch:    grid = (ceil(total / 256),), block = (256,).
// Matches:   minimal_unet.optim.sgd_momentum_update.
// real_t is #defined (float or double) by the loader in front of this file.

extern "C" __global__ void sgd_momentum(real_t* param, const real_t* grad, real_t* velocity,
                                        real_t lr, real_t momentum, int total)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    real_t v = momentum * velocity[i] - lr * grad[i];
    velocity[i] = v;
    param[i] += v;
}
