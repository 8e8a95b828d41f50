/* edgemark SUT protocol, version 1: the C99 side. See edgemark_sut.h. */
#define _POSIX_C_SOURCE 200809L
#include "edgemark_sut.h"

#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    K_HELLO = 1, K_HELLO_REPLY = 2, K_LOAD = 3, K_LOAD_ALIAS = 4, K_UNLOAD = 5,
    K_FLUSH = 6, K_FLUSHED = 7, K_ISSUE = 8, K_COMPLETE = 9, K_OUTPUTS = 10,
    K_ERROR = 11, K_BYE = 12, K_BYE_REPLY = 13, K_DOORBELL = 14
};
/* HELLO flags. */
enum { H_SPIN = 1 };
/* The spin transport's mapping (docs/sut-protocol.md, "The spin transport"). */
#define SHM_SIZE 4096u
#define SHM_OFF_SPIN_US 16
#define SHM_OFF_ATTACHED 20
#define SHM_OFF_REQUEST 128
#define SHM_OFF_DONE 256
#define SHM_OFF_SLEEPING 260
#define SEQ_MASK 0x3fffffffu
enum { OP_QUERY = 0, OP_NULL = 1, OP_PIPE = 2 };
enum { F_OUTPUTS = 1, F_NULL = 2 };
enum { E_VERSION = 1, E_MODEL = 2, E_BAD_FRAME = 3, E_UNKNOWN_SAMPLE = 4, E_OTHER = 5 };
#define SCRATCH 0xffffffffu
/* Offline completions: ids per COMPLETE frame (a fixed buffer). */
#define IDS_PER_FRAME 1024

typedef struct {
    em_tensor *t; /* n_inputs tensors; NULL = not loaded */
    void *prepared;
    uint32_t alias_of; /* SCRATCH-1 sentinel: owns its data */
} sample;
#define OWNER 0xfffffffeu

typedef struct {
    const em_sut *sut;
    int rfd, wfd;
    uint8_t *buf;
    size_t cap, start, end;
    sample *samples;
    size_t n_samples;
    sample scratch;
    em_tensor *outputs;
    uint8_t complete[12 + 4 * IDS_PER_FRAME];
    /* Spin transport: the mapping (NULL without), the last request's
     * sequence number, and whether we spin on it (else read the pipe). */
    uint8_t *shm;
    uint32_t last_seq;
    int spinning;
    long spin_ns;
} conn;

size_t em_dtype_size(em_dtype t) {
    switch (t) {
    case EM_U8: case EM_I8: return 1;
    case EM_F16: return 2;
    case EM_F32: case EM_I32: return 4;
    case EM_I64: case EM_F64: return 8;
    }
    return 0;
}

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static int send_all(conn *c, const void *b, size_t n) {
    const uint8_t *p = b;
    while (n) {
        ssize_t w = write(c->wfd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w; n -= (size_t)w;
    }
    return 0;
}

/* Sends an ERROR frame and says it on stderr; returns 1 (the exit code). */
static int fail(conn *c, uint32_t code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "edgemark_sut: %s\n", msg);
    size_t n = strlen(msg);
    uint8_t f[8 + 4 + 2 + sizeof msg];
    wr32(f, K_ERROR); wr32(f + 4, (uint32_t)(6 + n)); wr32(f + 8, code);
    f[12] = (uint8_t)n; f[13] = (uint8_t)(n >> 8);
    memcpy(f + 14, msg, n);
    send_all(c, f, 14 + n);
    return 1;
}

/* Next frame: kind, payload pointer and length (into c->buf). 0 ok, -1 EOF/error. */
static int next_frame(conn *c, uint32_t *kind, uint8_t **payload, uint32_t *len) {
    for (;;) {
        size_t avail = c->end - c->start;
        if (avail >= 8) {
            uint32_t n = rd32(c->buf + c->start + 4);
            size_t need = 8 + (size_t)n;
            if (avail >= need) {
                *kind = rd32(c->buf + c->start);
                *payload = c->buf + c->start + 8;
                *len = n;
                c->start += need;
                return 0;
            }
            if (c->cap - c->start < need) {
                memmove(c->buf, c->buf + c->start, avail);
                c->start = 0; c->end = avail;
                if (c->cap < need) { /* only for frames bigger than any before */
                    uint8_t *nb = realloc(c->buf, need);
                    if (!nb) return -1;
                    c->buf = nb; c->cap = need;
                }
            }
        } else if (c->start == c->end) {
            c->start = c->end = 0;
        } else if (c->cap - c->start < 8) {
            memmove(c->buf, c->buf + c->start, avail);
            c->start = 0; c->end = avail;
        }
        ssize_t r = read(c->rfd, c->buf + c->end, c->cap - c->end);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        c->end += (size_t)r;
    }
}

static sample *find(conn *c, uint32_t index) {
    if (index == SCRATCH) return c->scratch.t ? &c->scratch : NULL;
    if (index >= c->n_samples || !c->samples[index].t) return NULL;
    return &c->samples[index];
}

static sample *slot(conn *c, uint32_t index) {
    if (index == SCRATCH) return &c->scratch;
    if (index >= c->n_samples) {
        size_t n = c->n_samples ? c->n_samples : 64;
        while (n <= index) n *= 2;
        sample *ns = realloc(c->samples, n * sizeof *ns);
        if (!ns) return NULL;
        memset(ns + c->n_samples, 0, (n - c->n_samples) * sizeof *ns);
        c->samples = ns; c->n_samples = n;
    }
    return &c->samples[index];
}

static void drop(conn *c, uint32_t index, sample *s) {
    if (!s->t) return;
    if (c->sut->unload) c->sut->unload(c->sut->user, index, s->prepared);
    if (s->alias_of == OWNER) {
        /* Aliases of this sample share its tensors: they go too. */
        for (size_t i = 0; i < c->n_samples; i++)
            if (c->samples[i].t && c->samples[i].alias_of == index) memset(&c->samples[i], 0, sizeof(sample));
        for (int i = 0; i < c->sut->n_inputs; i++) free(s->t[i].data);
        free(s->t);
    }
    memset(s, 0, sizeof *s);
}

static int load(conn *c, const uint8_t *p, uint32_t len) {
    const em_sut *sut = c->sut;
    if (len < 8) return fail(c, E_BAD_FRAME, "LOAD frame of %u bytes", len);
    uint32_t index = rd32(p), n = rd32(p + 4);
    if ((int)n != sut->n_inputs)
        return fail(c, E_BAD_FRAME, "LOAD of sample %u has %u tensors, the SUT has %d inputs", index, n, sut->n_inputs);
    sample *s = slot(c, index);
    if (!s) return fail(c, E_OTHER, "out of memory");
    drop(c, index, s);
    em_tensor *t = calloc(n, sizeof *t);
    if (!t) return fail(c, E_OTHER, "out of memory");
    size_t pos = 8;
    for (uint32_t i = 0; i < n; i++) {
        if (pos + 4 > len) return fail(c, E_BAD_FRAME, "LOAD frame too short");
        t[i].dtype = (em_dtype)p[pos];
        t[i].rank = p[pos + 1];
        if (t[i].rank > EM_MAX_RANK || !em_dtype_size(t[i].dtype))
            return fail(c, E_BAD_FRAME, "LOAD: tensor with rank %d dtype %d", t[i].rank, (int)t[i].dtype);
        pos += 4;
        if (pos + 4 * (size_t)t[i].rank + 8 > len) return fail(c, E_BAD_FRAME, "LOAD frame too short");
        for (int d = 0; d < t[i].rank; d++, pos += 4) t[i].shape[d] = rd32(p + pos);
        uint64_t bytes = rd64(p + pos);
        pos += 8;
        if (pos + bytes > len) return fail(c, E_BAD_FRAME, "LOAD frame too short for its tensor bytes");
        t[i].bytes = (size_t)bytes;
        t[i].data = malloc(bytes ? bytes : 1);
        if (!t[i].data) return fail(c, E_OTHER, "out of memory");
        memcpy(t[i].data, p + pos, bytes);
        pos += bytes;
    }
    s->t = t;
    s->alias_of = OWNER;
    s->prepared = NULL;
    if (sut->load && sut->load(sut->user, index, t, &s->prepared) != 0)
        return fail(c, E_MODEL, "load() failed for sample %u", index);
    return 0;
}

static int outputs_frame(conn *c, uint32_t id) {
    const em_sut *sut = c->sut;
    size_t n = 16;
    for (int i = 0; i < sut->n_outputs; i++) n += 4 + 4 * (size_t)c->outputs[i].rank + 8 + c->outputs[i].bytes;
    uint8_t *f = malloc(n); /* accuracy mode only: never timed */
    if (!f) return fail(c, E_OTHER, "out of memory");
    wr32(f, K_OUTPUTS); wr32(f + 4, (uint32_t)(n - 8)); wr32(f + 8, id); wr32(f + 12, (uint32_t)sut->n_outputs);
    size_t pos = 16;
    for (int i = 0; i < sut->n_outputs; i++) {
        const em_tensor *o = &c->outputs[i];
        f[pos] = (uint8_t)o->dtype; f[pos + 1] = (uint8_t)o->rank; f[pos + 2] = f[pos + 3] = 0;
        pos += 4;
        for (int d = 0; d < o->rank; d++, pos += 4) wr32(f + pos, o->shape[d]);
        wr32(f + pos, (uint32_t)o->bytes); wr32(f + pos + 4, (uint32_t)((uint64_t)o->bytes >> 32));
        pos += 8;
        memcpy(f + pos, o->data, o->bytes);
        pos += o->bytes;
    }
    int r = send_all(c, f, n);
    free(f);
    return r;
}

static int send_ids(conn *c, uint32_t count) {
    wr32(c->complete, K_COMPLETE);
    wr32(c->complete + 4, 4 + 4 * count);
    wr32(c->complete + 8, count);
    return send_all(c, c->complete, 12 + 4 * (size_t)count);
}

static int issue(conn *c, const uint8_t *p, uint32_t len) {
    const em_sut *sut = c->sut;
    if (len < 8) return fail(c, E_BAD_FRAME, "ISSUE frame of %u bytes", len);
    uint32_t flags = rd32(p), count = rd32(p + 4);
    if ((uint64_t)len != 8 + 8 * (uint64_t)count)
        return fail(c, E_BAD_FRAME, "ISSUE of %u samples has %u bytes", count, len);
    /* Every index is checked before anything runs. */
    for (uint32_t i = 0; i < count; i++) {
        uint32_t index = rd32(p + 12 + 8 * (size_t)i);
        if (!find(c, index)) return fail(c, E_UNKNOWN_SAMPLE, "sample %u is not loaded", index);
    }
    uint32_t pending = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t id = rd32(p + 8 + 8 * (size_t)i), index = rd32(p + 12 + 8 * (size_t)i);
        sample *s = find(c, index);
        if (!(flags & F_NULL)) {
            /* An alias shares its owner's tensors (s->t points at them). */
            if (sut->run(sut->user, s->t, s->prepared, c->outputs) != 0)
                return fail(c, E_OTHER, "run() failed on sample %u", index);
        }
        if (flags & F_OUTPUTS) {
            if (outputs_frame(c, id) != 0) return 1;
            continue;
        }
        wr32(c->complete + 12 + 4 * pending, id);
        if (++pending == IDS_PER_FRAME) {
            if (send_ids(c, pending) != 0) return 1;
            pending = 0;
        }
    }
    if (pending && send_ids(c, pending) != 0) return 1;
    return 0;
}

/* The spin transport: map EDGEMARK_SUT_SHM's memfd and say so in it (before
 * the HELLO_REPLY, which is how edgemark knows). */
static int attach(conn *c) {
    const char *v = getenv("EDGEMARK_SUT_SHM");
    if (!v) return fail(c, E_OTHER, "HELLO asks for the spin transport but EDGEMARK_SUT_SHM is not set");
    int fd = atoi(v);
    void *m = mmap(NULL, SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) return fail(c, E_OTHER, "spin transport: cannot map EDGEMARK_SUT_SHM=%s: %s", v, strerror(errno));
    uint8_t *b = m;
    if (memcmp(b, "EDGEMSPN", 8) != 0 || rd32(b + 8) != 1 || rd32(b + 12) != SHM_SIZE)
        return fail(c, E_VERSION, "spin transport: the mapping's magic/layout version is not EDGEMSPN 1 (this SUT's edgemark_sut.c knows layout 1)");
    c->shm = b;
    c->spin_ns = (long)rd32(b + SHM_OFF_SPIN_US) * 1000L;
    c->last_seq = 0;
    c->spinning = 0; /* the pipe until the first DOORBELL */
    __atomic_store_n((uint32_t *)(b + SHM_OFF_ATTACHED), 1u, __ATOMIC_RELEASE);
    return 0;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || (defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH >= 7)
    __asm__ __volatile__("yield");
#endif
}

static long mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000000000L + t.tv_nsec;
}

/* Spins on the request word, answering QUERY and NULL requests, until an op
 * PIPE request or spin_ns without a request: then it says it sleeps and
 * returns 0 (read the pipe). 1: a fatal error (ERROR sent). */
static int spin(conn *c) {
    const em_sut *sut = c->sut;
    uint64_t *req = (uint64_t *)(c->shm + SHM_OFF_REQUEST);
    uint32_t *done = (uint32_t *)(c->shm + SHM_OFF_DONE);
    uint32_t *sleeping = (uint32_t *)(c->shm + SHM_OFF_SLEEPING);
    long idle_since = mono_ns();
    for (;;) {
        uint64_t w = 0;
        int got = 0;
        for (int i = 0; i < 1024; i++) {
            w = __atomic_load_n(req, __ATOMIC_ACQUIRE);
            if (((uint32_t)w & SEQ_MASK) != c->last_seq) { got = 1; break; }
            cpu_relax();
        }
        if (!got) {
            long idle = mono_ns() - idle_since;
            /* Offer the core now and then: an edgemark sharing it (one CPU
             * for both) posts its request sooner. Returns at once otherwise. */
            if (idle > 50000) sched_yield();
            if (idle < c->spin_ns) continue;
            /* Idle: sleep on the pipe. Dekker with edgemark's request-store,
             * fence, sleeping-load: one of us sees the other, so either we
             * see its request now or it rings the doorbell. */
            __atomic_store_n(sleeping, 1u, __ATOMIC_RELAXED);
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            w = __atomic_load_n(req, __ATOMIC_ACQUIRE);
            if (((uint32_t)w & SEQ_MASK) == c->last_seq) { c->spinning = 0; return 0; }
            __atomic_store_n(sleeping, 0u, __ATOMIC_RELAXED);
        }
        uint32_t seq = (uint32_t)w & SEQ_MASK, op = ((uint32_t)w >> 30) & 3u, index = (uint32_t)(w >> 32);
        c->last_seq = seq;
        if (op == OP_PIPE) {
            __atomic_store_n(sleeping, 1u, __ATOMIC_RELAXED);
            __atomic_store_n(done, seq, __ATOMIC_RELEASE);
            c->spinning = 0;
            return 0;
        }
        if (op == OP_QUERY) {
            sample *s = find(c, index);
            if (!s) return fail(c, E_UNKNOWN_SAMPLE, "sample %u is not loaded", index);
            if (sut->run(sut->user, s->t, s->prepared, c->outputs) != 0)
                return fail(c, E_OTHER, "run() failed on sample %u", index);
        } else if (op != OP_NULL) {
            return fail(c, E_BAD_FRAME, "spin transport: unknown request op %u", op);
        }
        __atomic_store_n(done, seq, __ATOMIC_RELEASE);
        idle_since = mono_ns();
    }
}

static size_t put_str(uint8_t *f, const char *s) {
    size_t n = strlen(s);
    if (n > 65535) n = 65535;
    f[0] = (uint8_t)n; f[1] = (uint8_t)(n >> 8);
    memcpy(f + 2, s, n);
    return 2 + n;
}

static int hello(conn *c) {
    const em_sut *sut = c->sut;
    uint32_t kind, len;
    uint8_t *p;
    if (next_frame(c, &kind, &p, &len) != 0) return 1;
    if (kind != K_HELLO || len < 12 || memcmp(p, "EDGEMSUT", 8) != 0)
        return fail(c, E_BAD_FRAME, "expected HELLO, got frame kind %u", kind);
    uint32_t v = rd32(p + 8);
    if (v != EM_PROTOCOL_VERSION)
        return fail(c, E_VERSION, "edgemark speaks SUT protocol version %u, this SUT (edgemark_sut.c) speaks version %u",
                    v, EM_PROTOCOL_VERSION);
    if ((rd32(p + 12) & H_SPIN) && attach(c) != 0) return 1;
    size_t n = 8 + 8 + 4 + 3 * 2 + strlen(sut->name) + strlen(sut->version) + strlen(sut->model) + 4;
    int nt = sut->n_inputs + sut->n_outputs;
    for (int i = 0; i < nt; i++) {
        const em_tensor_desc *d = i < sut->n_inputs ? &sut->inputs[i] : &sut->outputs[i - sut->n_inputs];
        n += 2 + strlen(d->name) + 12 + 4 * (size_t)d->rank;
    }
    uint8_t *f = malloc(n);
    if (!f) return fail(c, E_OTHER, "out of memory");
    size_t pos = 8;
    memcpy(f + pos, "EDGEMSUT", 8); pos += 8;
    wr32(f + pos, EM_PROTOCOL_VERSION); pos += 4;
    pos += put_str(f + pos, sut->name);
    pos += put_str(f + pos, sut->version);
    pos += put_str(f + pos, sut->model);
    f[pos] = (uint8_t)sut->n_inputs; f[pos + 1] = 0; f[pos + 2] = (uint8_t)sut->n_outputs; f[pos + 3] = 0;
    pos += 4;
    for (int i = 0; i < nt; i++) {
        const em_tensor_desc *d = i < sut->n_inputs ? &sut->inputs[i] : &sut->outputs[i - sut->n_inputs];
        pos += put_str(f + pos, d->name);
        f[pos] = (uint8_t)d->dtype; f[pos + 1] = (uint8_t)d->rank; f[pos + 2] = (uint8_t)(d->quantized != 0); f[pos + 3] = 0;
        pos += 4;
        uint32_t s; memcpy(&s, &d->scale, 4);
        wr32(f + pos, d->quantized ? s : 0); wr32(f + pos + 4, d->quantized ? (uint32_t)d->zero_point : 0);
        pos += 8;
        for (int k = 0; k < d->rank; k++, pos += 4) wr32(f + pos, (uint32_t)d->shape[k]);
    }
    wr32(f, K_HELLO_REPLY);
    wr32(f + 4, (uint32_t)(pos - 8));
    int r = send_all(c, f, pos);
    free(f);
    return r == 0 ? 0 : 1;
}

int em_serve_fds(const em_sut *sut, int rfd, int wfd) {
    conn c;
    memset(&c, 0, sizeof c);
    c.sut = sut; c.rfd = rfd; c.wfd = wfd;
    c.cap = 1u << 20;
    c.buf = malloc(c.cap);
    c.outputs = calloc((size_t)(sut->n_outputs ? sut->n_outputs : 1), sizeof *c.outputs);
    if (!c.buf || !c.outputs) return fail(&c, E_OTHER, "out of memory");
    /* Output buffers exist before any query (fixed shapes; leading -1 = 1). */
    for (int i = 0; i < sut->n_outputs; i++) {
        const em_tensor_desc *d = &sut->outputs[i];
        em_tensor *o = &c.outputs[i];
        size_t n = 1;
        o->dtype = d->dtype; o->rank = d->rank;
        for (int k = 0; k < d->rank; k++) {
            int32_t v = d->shape[k] < 0 ? 1 : d->shape[k];
            o->shape[k] = (uint32_t)v;
            n *= (size_t)v;
        }
        o->bytes = n * em_dtype_size(d->dtype);
        o->data = calloc(o->bytes ? o->bytes : 1, 1);
        if (!o->data) return fail(&c, E_OTHER, "out of memory");
    }
    if (hello(&c) != 0) return 1;
    for (;;) {
        uint32_t kind, len;
        uint8_t *p;
        if (c.spinning && spin(&c) != 0) return 1;
        if (next_frame(&c, &kind, &p, &len) != 0) return 1; /* edgemark went away */
        switch (kind) {
        case K_DOORBELL:
            if (!c.shm) return fail(&c, E_BAD_FRAME, "DOORBELL without the spin transport");
            /* A request waits (a stale doorbell finds none: keep reading). */
            if ((__atomic_load_n((uint64_t *)(c.shm + SHM_OFF_REQUEST), __ATOMIC_ACQUIRE) & SEQ_MASK) != c.last_seq) {
                __atomic_store_n((uint32_t *)(c.shm + SHM_OFF_SLEEPING), 0u, __ATOMIC_RELAXED);
                c.spinning = 1;
            }
            break;
        case K_ISSUE:
            if (issue(&c, p, len) != 0) return 1;
            break;
        case K_LOAD:
            if (load(&c, p, len) != 0) return 1;
            break;
        case K_LOAD_ALIAS: {
            if (len != 8) return fail(&c, E_BAD_FRAME, "LOAD_ALIAS of %u bytes", len);
            uint32_t index = rd32(p), of = rd32(p + 4);
            sample *o = find(&c, of);
            if (!o || o->alias_of != OWNER) return fail(&c, E_UNKNOWN_SAMPLE, "LOAD_ALIAS of sample %u, not loaded", of);
            sample *s = slot(&c, index);
            if (!s) return fail(&c, E_OTHER, "out of memory");
            o = find(&c, of); /* slot() may have moved the table */
            drop(&c, index, s);
            s->t = o->t; s->prepared = o->prepared; s->alias_of = of;
            break;
        }
        case K_UNLOAD: {
            if (len < 4 || len != 4 + 4 * (uint64_t)rd32(p)) return fail(&c, E_BAD_FRAME, "UNLOAD of %u bytes", len);
            uint32_t n = rd32(p);
            /* Aliases first, so an owner never goes before them. */
            for (int pass = 0; pass < 2; pass++)
                for (uint32_t i = 0; i < n; i++) {
                    uint32_t index = rd32(p + 4 + 4 * (size_t)i);
                    sample *s = find(&c, index);
                    if (s && (pass == 1) == (s->alias_of == OWNER)) {
                        if (pass == 0) memset(s, 0, sizeof *s); else drop(&c, index, s);
                    }
                }
            break;
        }
        case K_FLUSH: {
            if (len != 4) return fail(&c, E_BAD_FRAME, "FLUSH of %u bytes", len);
            uint8_t f[12];
            wr32(f, K_FLUSHED); wr32(f + 4, 4); memcpy(f + 8, p, 4);
            if (send_all(&c, f, 12) != 0) return 1;
            break;
        }
        case K_BYE: {
            uint8_t f[8];
            wr32(f, K_BYE_REPLY); wr32(f + 4, 0);
            send_all(&c, f, 8);
            return 0;
        }
        default:
            return fail(&c, E_BAD_FRAME, "unknown frame kind %u", kind);
        }
    }
}

int em_serve(const em_sut *sut) {
    const char *v = getenv("EDGEMARK_SUT_FDS");
    int r, w;
    if (!v || sscanf(v, "%d,%d", &r, &w) != 2) {
        fprintf(stderr, "edgemark_sut: EDGEMARK_SUT_FDS is not set; this program is a SUT for "
                        "`edgemark run --sut exec:...` (or `edgemark sut-check ...`)\n");
        return 2;
    }
    return em_serve_fds(sut, r, w);
}
