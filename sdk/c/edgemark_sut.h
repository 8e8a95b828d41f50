/* edgemark SUT protocol, version 1: the C99 side (one header, one source).
 *
 * Wrap an engine as an edgemark system under test: fill an em_sut with its
 * description and callbacks, call em_serve() from main(), and run it with
 * `edgemark run --sut exec:./my_sut ARGS...`. edgemark talks to it over the
 * descriptors named in EDGEMARK_SUT_FDS (stdout/stderr stay free for logs)
 * and takes every timestamp itself, as LoadGen does. docs/sut-protocol.md
 * describes the frames byte by byte.
 *
 * Memory: samples are copied into malloc'd storage when loaded (untimed).
 * The query path (ISSUE -> run -> COMPLETE) allocates nothing: it parses the
 * frame in the read buffer and answers from fixed buffers. The read buffer
 * (1 MiB, an Offline query of 131072 samples) only grows for bigger frames:
 * sample loading, or a larger Offline query than that.
 *
 * Transports: pipes, a socketpair, or spin (EDGEMARK_SUT_SHM: SingleStream
 * queries through a shared mapping this library spins on, with GCC/Clang
 * __atomic builtins); em_serve handles all three, the callbacks see no
 * difference.
 */
#ifndef EDGEMARK_SUT_H
#define EDGEMARK_SUT_H

#include <stddef.h>
#include <stdint.h>

/* C linkage from C++ (TensorRT, OpenVINO's C++ API): build edgemark_sut.c as C
 * and include this header from the C++ wrapper. */
#ifdef __cplusplus
extern "C" {
#endif

#define EM_PROTOCOL_VERSION 1u
#define EM_MAX_RANK 8

typedef enum {
    EM_F32 = 1, EM_U8 = 2, EM_I8 = 3, EM_I32 = 4, EM_I64 = 5, EM_F16 = 6, EM_F64 = 7
} em_dtype;

/* An input or output as the hello describes it; -1 = dynamic dimension
 * (a leading -1 is batch 1 for edgemark). */
typedef struct {
    const char *name;
    em_dtype dtype;
    int rank;
    int32_t shape[EM_MAX_RANK];
    int quantized; /* 1: scale and zero_point apply */
    float scale;
    int32_t zero_point;
} em_tensor_desc;

/* Tensor data: a loaded input (read-only) or an output buffer to fill. */
typedef struct {
    em_dtype dtype;
    int rank;
    uint32_t shape[EM_MAX_RANK];
    void *data;
    size_t bytes;
} em_tensor;

typedef struct em_sut {
    const char *name;    /* engine name, e.g. "tensorrt" */
    const char *version; /* engine version */
    const char *model;   /* model path or name */
    int n_inputs, n_outputs;
    const em_tensor_desc *inputs, *outputs;
    void *user;
    /* Untimed, optional: called once per loaded sample with its inputs (e.g.
     * to copy them to a device). *prepared is handed back to run(). Return 0 on
     * success. NULL: run() gets the host tensors (prepared = NULL). */
    int (*load)(void *user, uint32_t index, const em_tensor *inputs, void **prepared);
    /* Untimed, optional: the sample is dropped. */
    void (*unload)(void *user, uint32_t index, void *prepared);
    /* Timed: run one sample. `outputs` are preallocated from the output
     * descriptions; fill them (edgemark reads them in accuracy mode only).
     * Return 0 on success; non-zero ends the session with an ERROR frame. */
    int (*run)(void *user, const em_tensor *inputs, void *prepared, em_tensor *outputs);
} em_sut;

/* Runs the protocol until BYE. Returns the process exit code: 0 after BYE,
 * 1 after a fatal error (an ERROR frame was sent, the reason is on stderr). */
int em_serve(const em_sut *sut);

/* The same with explicit descriptors (tests; em_serve reads EDGEMARK_SUT_FDS). */
int em_serve_fds(const em_sut *sut, int rfd, int wfd);

size_t em_dtype_size(em_dtype t);

#ifdef __cplusplus
}
#endif

#endif
