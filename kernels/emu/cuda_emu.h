// cuda_emu.h - just enough of CUDA to run our kernels as ordinary C++ on the CPU.
//
// Why: a student without a GPU can run every kernel of kernels/cuda/ on small NumPy
// arrays, compare it with the NumPy reference, and step through one thread in gdb.
// How (see also minimal_unet/backends/emu.py, which writes the translation unit):
//   - `__global__`, `__device__`, `__host__` vanish and `__forceinline__` becomes `inline`:
//     a kernel is a plain C++ function.
//   - threadIdx, blockIdx, blockDim, gridDim are `thread_local` globals: every C++ thread
//     that plays a GPU thread has its own threadIdx.
//   - emu_launch() runs every thread of the grid. Blocks run one after another. Inside a
//     block, a kernel that never calls __syncthreads() runs its threads as a plain loop
//     (one C++ thread, easy to follow in a debugger); a kernel that does is run with one
//     real POSIX thread per GPU thread, and __syncthreads() is a pthread barrier over them.
//   - `__shared__` becomes `static`: a `__shared__ float tile[16][16];` inside a kernel
//     is then ONE array for the whole process, seen by every thread of the block,
//     which is what shared memory is. That is only right because blocks never run at the
//     same time here: the block's threads all pass a final barrier before the next block
//     starts, so the next block finds the array as the last one left it, as a real GPU
//     may too (shared memory is never initialised). Dynamic `extern __shared__` memory is
//     not supported (our kernels use only fixed-size shared arrays).
//   - atomicAdd (int, unsigned, float, double) is a real atomic (a compare-and-swap loop
//     with GCC's __atomic builtins), so a kernel using it is correct under threads too.
// Only light C headers are included (pthread.h, math.h), so each kernel file builds in
// about half a second.
// Not emulated: warps (no __shfl_*, no warp-synchronous code), streams, timing, memory
// spaces (every pointer is host memory). A race that the GPU would show may stay hidden
// here; a missing barrier usually does show up as a wrong result.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <pthread.h>
#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static

struct dim3 {
    unsigned int x = 1, y = 1, z = 1;
};
using uint3 = dim3;

inline thread_local dim3 threadIdx;
inline thread_local dim3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;

// The barrier of the block now running (null while threads run as a plain loop).
inline pthread_barrier_t* emu_block_barrier = nullptr;

inline void __syncthreads()
{
    if (emu_block_barrier == nullptr) {
        if (blockDim.x * blockDim.y * blockDim.z == 1) return;  // a 1-thread block
        std::fprintf(stderr, "cuda_emu: __syncthreads() in a kernel launched without "
                             "threads (launch it with threaded = true)\n");
        std::abort();
    }
    pthread_barrier_wait(emu_block_barrier);
}

// old = *address; *address = old + value, atomically; returns old (as CUDA's atomicAdd).
template <typename T>
inline T atomicAdd(T* address, T value)
{
    T old;
    __atomic_load(address, &old, __ATOMIC_SEQ_CST);  // the generic form works for float too
    T sum = old + value;
    // Retry while another thread changed *address between our read and our write
    // (a failed exchange reloads `old`).
    while (!__atomic_compare_exchange(address, &old, &sum, false, __ATOMIC_SEQ_CST,
                                      __ATOMIC_SEQ_CST))
        sum = old + value;
    return old;
}

// The float math functions CUDA provides in device code, plus the std overloads so
// that exp(float) stays in float as it does in CUDA C++.
using std::exp;
using std::fabs;
using std::fmax;
using std::fmin;
using std::log;
using std::sqrt;
using std::tanh;
using ::expf;
using ::fmaxf;
using ::fminf;
using ::logf;
using ::sqrtf;

// Call kernel(args...): `args` holds one pointer per kernel parameter, pointing at that
// parameter's value (as cupy and the CUDA driver's cuLaunchKernel take them).
template <typename... P, std::size_t... I>
void emu_call(void (*kernel)(P...), void** args, std::index_sequence<I...>)
{
    kernel(*static_cast<std::remove_cv_t<std::remove_reference_t<P>>*>(args[I])...);
}

template <typename... P>
struct EmuLaunch {
    void (*kernel)(P...);
    void** args;
    dim3 grid, block;
};

// The body of one POSIX thread: play GPU thread `t` in every block in turn (x, then y,
// then z order). All threads of a block meet at `barrier` after it, so blocks never overlap.
template <typename... P>
void emu_run_thread_in_every_block(const EmuLaunch<P...>& launch, dim3 t,
                                   pthread_barrier_t* barrier)
{
    gridDim = launch.grid;
    blockDim = launch.block;
    threadIdx = t;
    for (unsigned z = 0; z < launch.grid.z; ++z)
        for (unsigned y = 0; y < launch.grid.y; ++y)
            for (unsigned x = 0; x < launch.grid.x; ++x) {
                blockIdx = {x, y, z};
                emu_call(launch.kernel, launch.args, std::index_sequence_for<P...>{});
                pthread_barrier_wait(barrier);  // the whole block has finished
            }
}

template <typename... P>
struct EmuWorker {
    const EmuLaunch<P...>* launch;
    dim3 thread;
};

template <typename... P>
void* emu_worker_main(void* arg)
{
    auto* worker = static_cast<EmuWorker<P...>*>(arg);
    emu_run_thread_in_every_block(*worker->launch, worker->thread, emu_block_barrier);
    return nullptr;
}

// Run kernel(args...) on every thread of grid x block (see the top of this file).
template <typename... P>
void emu_launch(void (*kernel)(P...), dim3 grid, dim3 block, std::size_t shared_bytes,
                void** args, bool threaded)
{
    const unsigned threads = block.x * block.y * block.z;
    if (shared_bytes != 0 || threads > 1024) {
        std::fprintf(stderr, "cuda_emu: dynamic shared memory is not supported and a block "
                             "has at most 1024 threads\n");
        std::abort();
    }
    EmuLaunch<P...> launch{kernel, args, grid, block};
    if (!threaded) {  // plain loops in the calling thread: block after block, thread after thread
        gridDim = grid;
        blockDim = block;
        for (unsigned bz = 0; bz < grid.z; ++bz)
            for (unsigned by = 0; by < grid.y; ++by)
                for (unsigned bx = 0; bx < grid.x; ++bx)
                    for (unsigned z = 0; z < block.z; ++z)
                        for (unsigned y = 0; y < block.y; ++y)
                            for (unsigned x = 0; x < block.x; ++x) {
                                blockIdx = {bx, by, bz};
                                threadIdx = {x, y, z};
                                emu_call(kernel, args, std::index_sequence_for<P...>{});
                            }
        return;
    }
    // One POSIX thread per GPU thread of a block, reused for every block in turn.
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, nullptr, threads);
    emu_block_barrier = &barrier;
    static pthread_t handles[1024];
    static EmuWorker<P...> workers[1024];
    unsigned i = 0;
    for (unsigned z = 0; z < block.z; ++z)
        for (unsigned y = 0; y < block.y; ++y)
            for (unsigned x = 0; x < block.x; ++x, ++i) {
                workers[i] = {&launch, {x, y, z}};
                pthread_create(&handles[i], nullptr, emu_worker_main<P...>, &workers[i]);
            }
    for (i = 0; i < threads; ++i) pthread_join(handles[i], nullptr);
    emu_block_barrier = nullptr;
    pthread_barrier_destroy(&barrier);
}
