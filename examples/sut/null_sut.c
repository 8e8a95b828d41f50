/* The C null / busy-wait SUT: answers each query at once, or after spinning
 * for the given microseconds. Measures the protocol's own cost
 * (scripts/bench_protocol.sh). With --fault it misbehaves after N good
 * queries (edgemark's fault tests): crash, exit, hang, garbage, unknown-id.
 *
 *   cc -O2 -std=c99 -I sdk/c examples/sut/null_sut.c sdk/c/edgemark_sut.c -o null_sut
 *   edgemark run --sut exec:./null_sut [--busy-us N] [--fault KIND --after N]
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "edgemark_sut.h"

static long busy_ns;
static const char *fault;
static long after = 3, done;

static void misbehave(void) {
    fprintf(stderr, "null_sut: query %ld: now doing '%s'\n", done, fault);
    const char *fds = getenv("EDGEMARK_SUT_FDS");
    int w = fds && strchr(fds, ',') ? atoi(strchr(fds, ',') + 1) : -1;
    if (strcmp(fault, "crash") == 0) {
        raise(SIGSEGV);
    } else if (strcmp(fault, "exit") == 0) {
        exit(3);
    } else if (strcmp(fault, "hang") == 0) {
        for (;;) pause();
    } else if (strcmp(fault, "garbage") == 0) {
        static const char junk[] = "hello from a printf that went to the wrong place\n";
        if (write(w, junk, sizeof junk - 1) < 0) exit(4);
        for (;;) pause();
    } else if (strcmp(fault, "unknown-id") == 0) {
        /* COMPLETE of one id, 4242, that was never issued. */
        static const unsigned char f[] = {9, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0x92, 0x10, 0, 0};
        if (write(w, f, sizeof f) < 0) exit(4);
        for (;;) pause();
    }
}

static int run(void *user, const em_tensor *inputs, void *prepared, em_tensor *outputs) {
    (void)user; (void)prepared;
    if (fault && ++done > after) misbehave();
    if (busy_ns > 0) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        do clock_gettime(CLOCK_MONOTONIC, &b);
        while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < busy_ns);
    }
    /* The "model" is the identity: accuracy-mode callers see their input back. */
    size_t n = inputs[0].bytes < outputs[0].bytes ? inputs[0].bytes : outputs[0].bytes;
    memcpy(outputs[0].data, inputs[0].data, n);
    return 0;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--busy-us") == 0 && i + 1 < argc) busy_ns = atol(argv[++i]) * 1000L;
        else if (strcmp(argv[i], "--fault") == 0 && i + 1 < argc) fault = argv[++i];
        else if (strcmp(argv[i], "--after") == 0 && i + 1 < argc) after = atol(argv[++i]);
    static const em_tensor_desc in = {"x", EM_F32, 2, {1, 4}, 0, 0.0f, 0};
    static const em_tensor_desc out = {"y", EM_F32, 2, {1, 4}, 0, 0.0f, 0};
    em_sut sut = {
        .name = "c-null", .version = "1", .model = "null",
        .n_inputs = 1, .n_outputs = 1, .inputs = &in, .outputs = &out,
        .run = run,
    };
    return em_serve(&sut);
}
