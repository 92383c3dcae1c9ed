// cuda_emu.h - just enough of CUDA to run our kernels as ordinary C++ on the CPU, with the
// checks a GPU would need a sanitizer for.
//
// Why: a student without a GPU can run every kernel of kernels/cuda/ on small NumPy
// arrays, compare it with the NumPy reference, and step through one thread in gdb; and a
// kernel bug that only hardware would show (a divergent barrier, a race in shared memory,
// an out-of-range index, an invalid launch) fails here with a message instead of passing.
// How (see also minimal_unet/backends/emu.py, which writes the translation unit):
//   - `__global__`, `__device__`, `__host__` vanish and `__forceinline__` becomes `inline`:
//     a kernel is a plain C++ function.
//   - threadIdx, blockIdx, blockDim, gridDim are `thread_local` globals: every C++ thread
//     that plays a GPU thread has its own threadIdx.
//   - emu_launch() checks the launch against the hardware limits (grid >= 1 in x, y, z,
//     grid.y and grid.z <= 65535, grid.x <= 2^31 - 1, block <= 1024 threads with z <= 64,
//     shared memory <= 48 KiB per block) and runs every thread of the grid. Blocks run one
//     after another. Inside a block, a kernel that never calls __syncthreads() runs its
//     threads as a plain loop (one C++ thread, easy to follow in a debugger); a kernel that
//     does is run with one POSIX thread per GPU thread.
//   - __syncthreads() is a checked barrier (EmuBlock below): it records the source line of
//     each waiting thread. Threads waiting at different barriers, or a thread leaving the
//     kernel while others wait, stop the launch with a message naming the kernel, the
//     barrier line(s) and the thread ids (a GPU would hang or give undefined results).
//   - `__shared__ T name[A][B];` is rewritten by emu.py into `static EmuShared<T, A, B>
//     name("name");`: one array for the whole process (blocks never overlap here), whose
//     every element access is checked: the index is inside each dimension, the element was
//     written in this block before it is read, and no two threads touch it between the same
//     two barriers unless both only read (a data race). Each finding stops the launch.
//   - Global memory (the kernel's array arguments) is checked by emu.py: every array is
//     copied between two guard pages, so a read or write past either end faults at once;
//     the fault handler below names the kernel, the thread and the argument.
//   - atomicAdd (int, unsigned, float, double) is a real atomic (a compare-and-swap loop
//     with GCC's __atomic builtins), so a kernel using it is correct under threads too.
// A launch returns 0, or 1 with the message in emu_error (read by emu.py).
// Not emulated: warps (no __shfl_*, no warp-synchronous code), streams, timing, dynamic
// shared memory, memory spaces (every pointer is host memory).
#pragma once

#include <cmath>
#include <csignal>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <pthread.h>
#include <type_traits>
#include <unistd.h>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __syncthreads() emu_syncthreads(__LINE__)

struct dim3 {
    unsigned int x = 1, y = 1, z = 1;
};
using uint3 = dim3;

inline thread_local dim3 threadIdx;
inline thread_local dim3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;

// ---------------------------------------------------------------- errors
inline const char* emu_kernel_name = "";
inline char emu_error[2048];
inline bool emu_failed = false;
inline pthread_mutex_t emu_error_mutex = PTHREAD_MUTEX_INITIALIZER;

// Record the first error of this launch (later ones are consequences of the first).
inline void emu_report(const char* format, ...)
{
    pthread_mutex_lock(&emu_error_mutex);
    if (!emu_failed) {
        int used = std::snprintf(emu_error, sizeof emu_error, "cuda_emu: kernel %s: ",
                                 emu_kernel_name);
        va_list args;
        va_start(args, format);
        std::vsnprintf(emu_error + used, sizeof emu_error - used, format, args);
        va_end(args);
        emu_failed = true;
    }
    pthread_mutex_unlock(&emu_error_mutex);
}

inline unsigned emu_thread_rank()  // the thread's number inside its block
{
    return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
}

// ---------------------------------------------------------------- the checked barrier
// One block runs at a time; its threads share this state. `epoch` counts the barriers
// passed (and the blocks started): accesses to shared memory in the same epoch by two
// threads are concurrent on a GPU.
struct EmuBlock {
    pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t released = PTHREAD_COND_INITIALIZER;
    unsigned threads = 1, waiting = 0, exited = 0;
    unsigned long long epoch = 0, block_epoch = 0;  // block_epoch: the epoch its block began
    int wait_line = 0;
    dim3 waiter, leaver;  // the first thread waiting now, the first thread that exited
    bool threaded = false;
};
inline EmuBlock emu_block;

// Called with the mutex held, after an error: release everyone, leave this thread.
[[noreturn]] inline void emu_abandon_thread()
{
    pthread_cond_broadcast(&emu_block.released);
    pthread_mutex_unlock(&emu_block.mutex);
    pthread_exit(nullptr);
}

inline void emu_syncthreads(int line)
{
    EmuBlock& b = emu_block;
    if (!b.threaded) {
        if (blockDim.x * blockDim.y * blockDim.z == 1) return;  // a 1-thread block
        emu_report("__syncthreads() at line %d in a kernel launched without threads", line);
        return;
    }
    pthread_mutex_lock(&b.mutex);
    if (emu_failed) emu_abandon_thread();
    dim3 t = threadIdx, blk = blockIdx;
    if (b.exited > 0) {
        emu_report("block (%u,%u,%u): thread (%u,%u,%u) waits at __syncthreads() on line %d "
                   "but thread (%u,%u,%u) has already left the kernel (a divergent barrier)",
                   blk.x, blk.y, blk.z, t.x, t.y, t.z, line, b.leaver.x, b.leaver.y, b.leaver.z);
        emu_abandon_thread();
    }
    if (b.waiting > 0 && line != b.wait_line) {
        emu_report("block (%u,%u,%u): threads wait at different barriers: thread (%u,%u,%u) "
                   "at __syncthreads() on line %d, thread (%u,%u,%u) on line %d",
                   blk.x, blk.y, blk.z, b.waiter.x, b.waiter.y, b.waiter.z, b.wait_line,
                   t.x, t.y, t.z, line);
        emu_abandon_thread();
    }
    if (b.waiting == 0) {
        b.wait_line = line;
        b.waiter = t;
    }
    if (++b.waiting == b.threads) {  // the last one: everyone may go on
        b.waiting = 0;
        ++b.epoch;
        pthread_cond_broadcast(&b.released);
    } else {
        unsigned long long epoch = b.epoch;
        while (b.epoch == epoch && !emu_failed) pthread_cond_wait(&b.released, &b.mutex);
        if (emu_failed) emu_abandon_thread();
    }
    pthread_mutex_unlock(&b.mutex);
}

// A thread has returned from the kernel: wait until the whole block has (threaded runs).
inline void emu_thread_exit()
{
    EmuBlock& b = emu_block;
    pthread_mutex_lock(&b.mutex);
    if (emu_failed) emu_abandon_thread();
    dim3 t = threadIdx, blk = blockIdx;
    if (b.waiting > 0) {
        emu_report("block (%u,%u,%u): thread (%u,%u,%u) left the kernel while thread "
                   "(%u,%u,%u) waits at __syncthreads() on line %d (a divergent barrier)",
                   blk.x, blk.y, blk.z, t.x, t.y, t.z, b.waiter.x, b.waiter.y, b.waiter.z,
                   b.wait_line);
        emu_abandon_thread();
    }
    if (b.exited == 0) b.leaver = t;
    if (++b.exited == b.threads) {  // the block is done: the next one starts a new epoch
        b.exited = 0;
        b.block_epoch = ++b.epoch;
        pthread_cond_broadcast(&b.released);
    } else {
        unsigned long long epoch = b.epoch;
        while (b.epoch == epoch && !emu_failed) pthread_cond_wait(&b.released, &b.mutex);
        if (emu_failed) emu_abandon_thread();
    }
    pthread_mutex_unlock(&b.mutex);
}

// ---------------------------------------------------------------- checked shared memory
struct EmuShadow {  // who touched one shared element in which epoch
    unsigned long long write_epoch = ~0ULL, read_epoch = ~0ULL;
    unsigned writer = 0, reader = 0;
    unsigned long long written_epoch = ~0ULL;  // the last write, kept across barriers
    bool many_readers = false;
};

inline pthread_mutex_t emu_shared_mutex = PTHREAD_MUTEX_INITIALIZER;

inline void emu_shared_access(EmuShadow& s, const char* name, std::size_t flat, bool write)
{
    pthread_mutex_lock(&emu_shared_mutex);
    const unsigned long long epoch = emu_block.epoch;
    const unsigned me = emu_thread_rank();
    const bool written_in_block = s.written_epoch != ~0ULL &&
                                  s.written_epoch >= emu_block.block_epoch;
    if (s.write_epoch == epoch && s.writer != me) {
        emu_report("block (%u,%u,%u): data race on __shared__ %s[%zu]: thread %u %s it, "
                   "thread %u wrote it, with no __syncthreads() between",
                   blockIdx.x, blockIdx.y, blockIdx.z, name, flat, me,
                   write ? "writes" : "reads", s.writer);
    } else if (write && s.read_epoch == epoch && (s.reader != me || s.many_readers)) {
        emu_report("block (%u,%u,%u): data race on __shared__ %s[%zu]: thread %u writes it, "
                   "another thread (thread %u or a later one) read it, with no "
                   "__syncthreads() between", blockIdx.x, blockIdx.y, blockIdx.z, name, flat,
                   me, s.reader);
    } else if (!write && !written_in_block) {
        emu_report("block (%u,%u,%u): thread %u reads __shared__ %s[%zu], never written in "
                   "this block so far (shared memory is not initialised: a missing write, or "
                   "a missing __syncthreads() before this read)",
                   blockIdx.x, blockIdx.y, blockIdx.z, me, name, flat);
    }
    if (write) {
        s.write_epoch = epoch;
        s.writer = me;
        s.written_epoch = epoch;
    } else if (s.read_epoch == epoch) {
        s.many_readers |= s.reader != me;
    } else {
        s.read_epoch = epoch;
        s.reader = me;
        s.many_readers = false;
    }
    pthread_mutex_unlock(&emu_shared_mutex);
}

// One element, or a partly indexed slice, of a checked shared array.
template <typename T>
struct EmuSharedIndex {
    T* data;
    EmuShadow* shadow;
    const char* name;
    const std::size_t* dims;
    int ndim, depth;
    std::size_t offset;

    EmuSharedIndex operator[](long long i) const
    {
        EmuSharedIndex next = *this;
        if (depth >= ndim || i < 0 || (std::size_t)i >= dims[depth]) {
            emu_report("block (%u,%u,%u): thread (%u,%u,%u) indexes __shared__ %s out of "
                       "range: index %lld of dimension %d (size %zu)",
                       blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x, threadIdx.y,
                       threadIdx.z, name, i, depth, depth < ndim ? dims[depth] : 0);
            i = 0;  // carry on with a harmless element; the launch fails at its end
        }
        next.offset = offset * (depth < ndim ? dims[depth] : 1) + (std::size_t)i;
        next.depth = depth + 1;
        return next;
    }
    T& element(bool write) const
    {
        if (depth != ndim) {
            emu_report("__shared__ %s used with %d of its %d indices", name, depth, ndim);
            return data[0];
        }
        emu_shared_access(shadow[offset], name, offset, write);
        return data[offset];
    }
    operator T() const { return element(false); }
    const EmuSharedIndex& operator=(T value) const { element(true) = value; return *this; }
    const EmuSharedIndex& operator=(const EmuSharedIndex& other) const
    {
        return *this = T(other);
    }
    const EmuSharedIndex& operator+=(T value) const { T old = *this; return *this = old + value; }
    const EmuSharedIndex& operator-=(T value) const { T old = *this; return *this = old - value; }
    const EmuSharedIndex& operator*=(T value) const { T old = *this; return *this = old * value; }
};

template <typename T, std::size_t... D>
struct EmuShared {
    static constexpr std::size_t dims[] = {D...};
    static constexpr std::size_t total = (D * ...);
    T data[total];
    EmuShadow shadow[total];
    const char* name;

    explicit EmuShared(const char* n) : name(n)
    {
        for (std::size_t i = 0; i < total; ++i)
            data[i] = T(0);
    }
    EmuSharedIndex<T> operator[](long long i)
    {
        return EmuSharedIndex<T>{data, shadow, name, dims, int(sizeof...(D)), 0, 0}[i];
    }
};

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
using std::isnan;
using std::log;
using std::sqrt;
using std::tanh;
using ::expf;
using ::fmaxf;
using ::fminf;
using ::logf;
using ::sqrtf;

// ---------------------------------------------------------------- out-of-range accesses
// emu.py places every array argument between guard pages; a fault lands here and names
// the argument whose guard was hit (EmuArray: what emu.py passes for each array).
struct EmuArray {
    std::uintptr_t start, end;  // the array's bytes [start, end)
    int argument;
};
inline const EmuArray* emu_arrays = nullptr;
inline int emu_array_count = 0;
inline struct sigaction emu_previous_segv;

inline void emu_on_segv(int signal, siginfo_t* info, void* context)
{
    char text[512];
    auto address = reinterpret_cast<std::uintptr_t>(info->si_addr);
    int used = std::snprintf(text, sizeof text,
                             "\ncuda_emu: kernel %s: block (%u,%u,%u) thread (%u,%u,%u) accessed "
                             "address %#lx outside every array", emu_kernel_name, blockIdx.x,
                             blockIdx.y, blockIdx.z, threadIdx.x, threadIdx.y, threadIdx.z,
                             (unsigned long)address);
    for (int i = 0; i < emu_array_count; ++i) {
        const EmuArray& a = emu_arrays[i];
        if (address >= a.end && address < a.end + 8192)
            used = std::snprintf(text, sizeof text,
                                 "\ncuda_emu: kernel %s: block (%u,%u,%u) thread (%u,%u,%u) "
                                 "accessed argument %d %lu bytes past its end (out of range)",
                                 emu_kernel_name, blockIdx.x, blockIdx.y, blockIdx.z,
                                 threadIdx.x, threadIdx.y, threadIdx.z, a.argument,
                                 (unsigned long)(address - a.end));
        else if (address < a.start && address + 8192 >= a.start)
            used = std::snprintf(text, sizeof text,
                                 "\ncuda_emu: kernel %s: block (%u,%u,%u) thread (%u,%u,%u) "
                                 "accessed argument %d %lu bytes before its start (out of "
                                 "range)", emu_kernel_name, blockIdx.x, blockIdx.y,
                                 blockIdx.z, threadIdx.x, threadIdx.y, threadIdx.z, a.argument,
                                 (unsigned long)(a.start - address));
    }
    if (used > 0 && emu_arrays != nullptr) {  // a fault outside a launch is not ours to name
        ssize_t ignored = write(2, text, std::strlen(text));
        ignored = write(2, "\n", 1);
        (void)ignored;
    }
    // Hand over to the handler that was there (Python's faulthandler prints the test).
    if (emu_previous_segv.sa_flags & SA_SIGINFO && emu_previous_segv.sa_sigaction != nullptr) {
        emu_previous_segv.sa_sigaction(signal, info, context);
    } else if (emu_previous_segv.sa_handler != SIG_DFL &&
               emu_previous_segv.sa_handler != SIG_IGN &&
               emu_previous_segv.sa_handler != nullptr) {
        emu_previous_segv.sa_handler(signal);
    }
    std::signal(signal, SIG_DFL);
    std::raise(signal);
}

inline void emu_install_segv_handler()
{
    static bool installed = false;
    if (installed) return;
    installed = true;
    struct sigaction action {};
    action.sa_sigaction = emu_on_segv;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &emu_previous_segv);
}

// ---------------------------------------------------------------- launching
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

template <typename... P>
struct EmuWorker {
    const EmuLaunch<P...>* launch;
    dim3 thread;
};

// The body of one POSIX thread: play GPU thread `thread` in every block in turn (x, then y,
// then z order); emu_thread_exit() keeps the blocks from overlapping.
template <typename... P>
void* emu_worker_main(void* arg)
{
    auto* worker = static_cast<EmuWorker<P...>*>(arg);
    const EmuLaunch<P...>& launch = *worker->launch;
    gridDim = launch.grid;
    blockDim = launch.block;
    threadIdx = worker->thread;
    for (unsigned z = 0; z < launch.grid.z; ++z)
        for (unsigned y = 0; y < launch.grid.y; ++y)
            for (unsigned x = 0; x < launch.grid.x; ++x) {
                blockIdx = {x, y, z};
                emu_call(launch.kernel, launch.args, std::index_sequence_for<P...>{});
                emu_thread_exit();
            }
    return nullptr;
}

// The launch limits of every GPU we target (compute capability 7.5 to 9.0). 0 when valid.
inline int emu_check_launch(dim3 grid, dim3 block, std::size_t static_shared,
                            std::size_t dynamic_shared)
{
    const unsigned long long threads = 1ULL * block.x * block.y * block.z;
    if (grid.x == 0 || grid.y == 0 || grid.z == 0)
        emu_report("invalid launch: grid (%u,%u,%u) has a zero dimension", grid.x, grid.y,
                   grid.z);
    else if (grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535)
        emu_report("invalid launch: grid (%u,%u,%u): x <= 2^31 - 1, y and z <= 65535", grid.x,
                   grid.y, grid.z);
    else if (threads == 0 || threads > 1024 || block.x > 1024 || block.y > 1024 || block.z > 64)
        emu_report("invalid launch: block (%u,%u,%u): at most 1024 threads, z <= 64", block.x,
                   block.y, block.z);
    else if (dynamic_shared != 0)
        emu_report("dynamic shared memory (%zu bytes) is not supported", dynamic_shared);
    else if (static_shared > 48 * 1024)
        emu_report("invalid launch: %zu bytes of __shared__ memory per block (at most 49152)",
                   static_shared);
    return emu_failed ? 1 : 0;
}

// Run kernel(args...) on every thread of grid x block (see the top of this file).
// Returns 0, or 1 with the reason in emu_error.
template <typename... P>
int emu_launch(const char* name, void (*kernel)(P...), dim3 grid, dim3 block,
               std::size_t static_shared, std::size_t shared_bytes, void** args,
               const EmuArray* arrays, int array_count, bool threaded)
{
    emu_kernel_name = name;
    emu_failed = false;
    emu_error[0] = '\0';
    if (emu_check_launch(grid, block, static_shared, shared_bytes)) return 1;
    emu_install_segv_handler();
    emu_arrays = arrays;
    emu_array_count = array_count;
    const unsigned threads = block.x * block.y * block.z;
    EmuBlock& b = emu_block;
    b.threads = threads;
    b.waiting = b.exited = 0;
    b.block_epoch = ++b.epoch;
    b.threaded = threaded;
    EmuLaunch<P...> launch{kernel, args, grid, block};
    if (!threaded) {  // plain loops in the calling thread: block after block, thread after thread
        gridDim = grid;
        blockDim = block;
        for (unsigned bz = 0; bz < grid.z; ++bz)
            for (unsigned by = 0; by < grid.y; ++by)
                for (unsigned bx = 0; bx < grid.x; ++bx) {
                    b.block_epoch = ++b.epoch;
                    for (unsigned z = 0; z < block.z; ++z)
                        for (unsigned y = 0; y < block.y; ++y)
                            for (unsigned x = 0; x < block.x; ++x) {
                                blockIdx = {bx, by, bz};
                                threadIdx = {x, y, z};
                                emu_call(kernel, args, std::index_sequence_for<P...>{});
                            }
                }
    } else {  // one POSIX thread per GPU thread of a block, reused for every block in turn
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
    }
    emu_arrays = nullptr;
    emu_array_count = 0;
    return emu_failed ? 1 : 0;
}
