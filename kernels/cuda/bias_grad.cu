// bias_grad.cu - the bias gradient of a convolution: db[f] = sum over n, h, w of dy[n,f,h,w].
//
// Computes   db[f] = sum_{n, s} dy[n, f, s]   for dy viewed as (N, F, S), S = H*W.
//            A deterministic block reduction: each thread adds a fixed, strided subset of
//            the N*S terms in a fixed order, then the block halves the partial sums in
//            shared memory (a fixed-order tree). No float atomics, so the result is the
//            same bit for bit on every run.
// Threads:   one block per channel f (blockIdx.x = f); thread t sums the terms
//            t, t + BLOCK, t + 2*BLOCK, ... of the N*S terms of that channel.
// Launch:    grid = (F,), block = (BIAS_GRAD_THREADS,) = (256,) exactly (the tree assumes it).
// Matches:   db of minimal_unet.ops.conv2d_backward and upconv2d_backward.
// real_t is #defined (float or double) by the loader in front of this file.

#define BIAS_GRAD_THREADS 256

extern "C" __global__ void bias_grad(const real_t* dy, real_t* db, int N, int F, int S)
{
    __shared__ real_t partial[BIAS_GRAD_THREADS];
    int f = blockIdx.x;
    int t = threadIdx.x;
    real_t sum = 0;
    for (int i = t; i < N * S; i += BIAS_GRAD_THREADS) {
        int n = i / S, s = i % S;
        sum += dy[((long long)n * F + f) * S + s];
    }
    partial[t] = sum;
    __syncthreads();
    // Tree: 256 -> 128 -> ... -> 1; every thread reaches every barrier.
    for (int half = BIAS_GRAD_THREADS / 2; half > 0; half /= 2) {
        if (t < half) partial[t] += partial[t + half];
        __syncthreads();
    }
    if (t == 0) db[f] = partial[0];
}
