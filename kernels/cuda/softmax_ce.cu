// softmax_ce.cu - pixel-wise softmax cross-entropy with per-pixel weights, and its gradient.
//
// Shapes:    logits (N, K, H, W), target (N, H, W) int32 in [0, K), weight (N, H, W)
//            (or none: has_weight = 0), P = N*H*W pixels.
// Computes   softmax_ce_pixels, one thread per pixel (n, s), s = h*W + w:
//              m = max_k z_k,  lse = m + log(sum_k exp(z_k - m))     (finite at +-1e4)
//              pixel_loss[n, s] = weight * (lse - z_target)          (= -weight log p_target)
//              dlogits[n, k, s] = weight * (exp(z_k - lse) - 1[k == target]) / P
//            A target outside [0, K) writes NaN (loss and gradient), so the error shows
//            without a device-to-host check.
//            sum_reduce, the deterministic mean: out[b] = scale * (sum of its slice of in),
//            block b adds the elements b, b + G*T, ... where T = REDUCE_THREADS threads
//            each add a strided subset in a fixed order, then a fixed shared-memory tree.
//            The launcher runs it twice: G blocks -> G partial sums, then one block with
//            scale = 1/P -> the mean. Same bits every run (no float atomics).
// Threads:   softmax_ce_pixels: one thread per pixel, flat over (N, H*W).
//            sum_reduce: thread t of block b starts at b*T + t, strides by G*T.
// Launch:    softmax_ce_pixels: grid = (ceil(P / 256),), block = (256,).
//            sum_reduce: grid = (G,), block = (REDUCE_THREADS,) = (256,) exactly.
// Matches:   minimal_unet.ops.softmax_cross_entropy (loss and dlogits).
// real_t is #defined (float or double) by the loader in front of this file.

#define REDUCE_THREADS 256

extern "C" __global__ void softmax_ce_pixels(const real_t* logits, const int* target,
                                             const real_t* weight, int has_weight,
                                             real_t* pixel_loss, real_t* dlogits, int N, int K,
                                             int S)
{
    int idx = blockIdx.x * blockDim.x + threadIdx.x;  // over (N, S)
    if (idx >= N * S) return;
    int s = idx % S, n = idx / S;
    const real_t* z = logits + (long long)n * K * S + s;  // z[k * S] = logits[n, k, s]
    real_t* dz = dlogits + (long long)n * K * S + s;
    int label = target[idx];
    if (label < 0 || label >= K) {
        real_t nan = real_t(0) / real_t(0);
        pixel_loss[idx] = nan;
        for (int k = 0; k < K; ++k) dz[k * S] = nan;
        return;
    }
    real_t m = z[0];
    for (int k = 1; k < K; ++k) m = z[k * S] > m ? z[k * S] : m;
    real_t sum_exp = 0;
    for (int k = 0; k < K; ++k) sum_exp += exp(z[k * S] - m);
    real_t lse = m + log(sum_exp);  // log sum_k exp(z_k)
    real_t wgt = has_weight ? weight[idx] : real_t(1);
    pixel_loss[idx] = wgt * (lse - z[label * S]);
    real_t scale = wgt / real_t(N * S);
    for (int k = 0; k < K; ++k) {
        real_t p = exp(z[k * S] - lse);  // softmax probability of class k
        dz[k * S] = scale * (p - (k == label ? real_t(1) : real_t(0)));
    }
}

extern "C" __global__ void sum_reduce(const real_t* in, real_t* out, int total, real_t scale)
{
    __shared__ real_t partial[REDUCE_THREADS];
    int t = threadIdx.x;
    real_t sum = 0;
    for (int i = blockIdx.x * REDUCE_THREADS + t; i < total; i += gridDim.x * REDUCE_THREADS)
        sum += in[i];
    partial[t] = sum;
    __syncthreads();
    for (int half = REDUCE_THREADS / 2; half > 0; half /= 2) {
        if (t < half) partial[t] += partial[t + half];
        __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = scale * partial[0];
}
