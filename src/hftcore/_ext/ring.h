/* Single-producer ring buffers of fixed-size records (hftcore._ext.ring).
 *
 * One memory region holds a header and the slots, so the same code serves heap memory and a
 * shared-memory segment mapped by several processes:
 *
 *   [0, 128)           config: magic, version, sizes, layout id, mode (written once)
 *   [128, 1152)        the record dtype as JSON text, so an attacher can rebuild it
 *   [1152, 1280)       producer line: head (published), claim (being written), pid, counters
 *   [1280, ...)        one 128-byte line per consumer: tail, state, pid, lost, evictions
 *   [data_offset, ...) capacity * record_size bytes of slots, capacity a power of two
 *
 * Cursors are 64-bit sequence numbers that never wrap; record ``seq`` lives in slot
 * ``seq & (capacity - 1)``.  Every line written by one side sits on its own 128 bytes (two cache
 * lines: x86 prefetches lines in pairs), so the producer and each consumer never share a line
 * they write.
 *
 * Ordering (C11 model through the __atomic builtins):
 *   producer  claim.store(relaxed); fence(release); copy records; head.store(release)
 *   consumer  head.load(acquire); copy records; fence(acquire); claim.load(relaxed)
 * The second half is a seqlock check: a consumer that copied a slot the producer was rewriting
 * sees it in ``claim`` and drops (and counts) the torn records.  In block and fail modes this
 * only happens to a consumer the producer evicted; in overwrite mode it is how losses are found.
 */
#ifndef HFTCORE_RING_H
#define HFTCORE_RING_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define HFR_MAGIC 0x31474e4952464848ULL   /* "HHFRING1" read as a little-endian u64 */
#define HFR_VERSION 1u
#define HFR_LINE 128u
#define HFR_DESCR_MAX 1024u
#define HFR_MAX_CONSUMERS 64u
#define HFR_PRODUCER_OFFSET (HFR_LINE + HFR_DESCR_MAX)
#define HFR_CONSUMERS_OFFSET (HFR_PRODUCER_OFFSET + HFR_LINE)
#define HFR_DATA_ALIGN 4096u

/* backpressure modes */
enum { HFR_BLOCK = 0, HFR_FAIL = 1, HFR_OVERWRITE = 2 };
/* consumer line states */
enum { HFR_FREE = 0, HFR_ACTIVE = 1, HFR_EVICTED = 2, HFR_JOINING = 3 };
/* wait strategies */
enum { HFR_WAIT_SPIN = 0, HFR_WAIT_YIELD = 1, HFR_WAIT_SLEEP = 2 };
/* results of the waiting calls (counts are >= 0) */
enum { HFR_TIMEOUT = -1, HFR_CLOSED = -2 };
/* where a consumer starts */
enum { HFR_START_LATEST = 0, HFR_START_OLDEST = 1, HFR_START_REJOIN = 2 };

typedef struct {
    uint64_t magic;             /* stored last (release): a reader seeing it sees the rest */
    uint32_t version;
    uint32_t data_offset;
    uint64_t capacity;
    uint64_t layout_id;
    uint32_t record_size;
    uint32_t mode;
    uint32_t max_consumers;
    uint32_t descr_len;
    int64_t created_ns;         /* CLOCK_REALTIME */
    uint32_t owner_pid;         /* process that created the ring (stale-segment detection) */
    uint32_t _pad0;
    uint64_t owner_start;       /* that process's start time (pid reuse), 0 when unknown */
    uint64_t stall_timeout_ns;  /* block mode: evict a consumer that blocks longer (0: never) */
    uint8_t _pad[HFR_LINE - 80];
} hfr_config;

typedef struct {
    uint64_t head;              /* records [0, head) are published */
    uint64_t claim;             /* records [head, claim) are being written */
    uint32_t pid;               /* producer process, 0 when none */
    uint32_t closed;            /* end of stream */
    uint64_t rejected;          /* fail mode: records refused because the ring was full */
    uint64_t evictions;         /* consumers evicted (dead or stalled) */
    uint64_t published_batches;
    uint8_t _pad[HFR_LINE - 48];
} hfr_producer;

typedef struct {
    uint64_t tail;              /* next record this consumer reads */
    uint32_t state;
    uint32_t pid;
    uint64_t lost;              /* records this consumer never saw (overwritten) */
    uint64_t evicted;           /* times the producer evicted it */
    uint8_t _pad[HFR_LINE - 32];
} hfr_consumer;

typedef char hfr_check_config[sizeof(hfr_config) == HFR_LINE ? 1 : -1];
typedef char hfr_check_producer[sizeof(hfr_producer) == HFR_LINE ? 1 : -1];
typedef char hfr_check_consumer[sizeof(hfr_consumer) == HFR_LINE ? 1 : -1];

/* the producer's private state (not shared) */
typedef struct {
    uint8_t *base;
    uint8_t *data;
    uint64_t capacity;
    uint64_t mask;
    uint64_t head;              /* == shared head: only this producer writes it */
    uint64_t limit;             /* cached: head may grow to limit without looking at consumers */
    uint64_t claim;             /* == shared claim */
    uint32_t record_size;
    uint32_t mode;
    uint32_t max_consumers;
    uint32_t pid;
    int wait;
    int64_t sleep_ns;
    uint64_t stall_ns;
    int64_t blocked_since;      /* monotonic ns when the current wait began, 0 when not blocked */
    int64_t last_liveness;      /* monotonic ns of the last pid check */
} hfr_prod_local;

/* one consumer's private state */
typedef struct {
    uint8_t *base;
    uint8_t *data;
    uint64_t capacity;
    uint64_t mask;
    uint64_t tail;
    uint64_t lost;
    uint64_t batch_seq;         /* sequence number of the first record of the last read */
    uint32_t record_size;
    uint32_t index;
    uint32_t pid;
    int wait;
    int64_t sleep_ns;
    int64_t last_liveness;
} hfr_cons_local;

static inline hfr_config *hfr_cfg(uint8_t *base) { return (hfr_config *)base; }
static inline hfr_producer *hfr_prod(uint8_t *base) {
    return (hfr_producer *)(base + HFR_PRODUCER_OFFSET);
}
static inline hfr_consumer *hfr_cons(uint8_t *base, uint32_t i) {
    return (hfr_consumer *)(base + HFR_CONSUMERS_OFFSET + (uint64_t)i * HFR_LINE);
}

static inline uint64_t hfr_data_offset(uint32_t max_consumers) {
    uint64_t end = HFR_CONSUMERS_OFFSET + (uint64_t)max_consumers * HFR_LINE;
    return (end + HFR_DATA_ALIGN - 1) / HFR_DATA_ALIGN * HFR_DATA_ALIGN;
}

/* total bytes for a ring, 0 when the sizes overflow */
static inline uint64_t hfr_total_bytes(uint64_t capacity, uint32_t record_size,
                                       uint32_t max_consumers) {
    uint64_t off = hfr_data_offset(max_consumers);
    if (record_size == 0 || capacity > (UINT64_MAX - off) / record_size) return 0;
    return off + capacity * record_size;
}

static inline int64_t hfr_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t hfr_realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Is process pid running?  A zombie (exited, not yet reaped: e.g. a child of the very process
 * that waits for it) counts as dead. */
static inline int hfr_pid_alive(uint32_t pid) {
    if (pid == 0) return 0;
    if (kill((pid_t)pid, 0) != 0 && errno != EPERM) return 0;
#ifdef __linux__
    {
        char path[32], buf[512];
        const char *close_paren = NULL;
        ssize_t got, i;
        int fd;
        snprintf(path, sizeof path, "/proc/%u/stat", (unsigned)pid);
        fd = open(path, O_RDONLY);
        if (fd < 0) return 1;
        got = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (got <= 0) return 1;
        for (i = 0; i < got; i++)
            if (buf[i] == ')') close_paren = buf + i;   /* the command name may hold ')' */
        if (close_paren && close_paren + 2 < buf + got && (close_paren[2] == 'Z' ||
                                                          close_paren[2] == 'X'))
            return 0;
    }
#endif
    return 1;
}

static inline void hfr_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Waiting loops read the clock (for timeouts and liveness checks) once every mask + 1 steps:
 * a step of spinning is a few ns, a sched_yield() about a microsecond, a sleep much more. */
static inline uint32_t hfr_clock_mask(int wait) {
    return wait == HFR_WAIT_SPIN ? 63u : wait == HFR_WAIT_YIELD ? 3u : 0u;
}

/* One step of a wait strategy. */
static inline void hfr_wait_step(int wait, int64_t sleep_ns) {
    if (wait == HFR_WAIT_SPIN) {
        hfr_cpu_relax();
    } else if (wait == HFR_WAIT_YIELD) {
        sched_yield();
    } else {
        struct timespec ts;
        ts.tv_sec = sleep_ns / 1000000000;
        ts.tv_nsec = sleep_ns % 1000000000;
        nanosleep(&ts, NULL);
    }
}

/* Lay out a new ring in ``base`` (zeroed by the caller). */
static inline void hfr_init(uint8_t *base, uint64_t capacity, uint32_t record_size,
                            uint32_t max_consumers, uint32_t mode, uint64_t layout_id,
                            const char *descr, uint32_t descr_len, uint64_t stall_ns,
                            uint32_t owner_pid, uint64_t owner_start) {
    hfr_config *c = hfr_cfg(base);
    c->version = HFR_VERSION;
    c->data_offset = (uint32_t)hfr_data_offset(max_consumers);
    c->capacity = capacity;
    c->layout_id = layout_id;
    c->record_size = record_size;
    c->mode = mode;
    c->max_consumers = max_consumers;
    c->descr_len = descr_len;
    c->created_ns = hfr_realtime_ns();
    c->owner_pid = owner_pid;
    c->owner_start = owner_start;
    c->stall_timeout_ns = stall_ns;
    memcpy(base + HFR_LINE, descr, descr_len);
    __atomic_store_n(&c->magic, HFR_MAGIC, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------------------------------------------ */
/* producer                                                                                   */

static inline void hfr_prod_open(hfr_prod_local *p, uint8_t *base, uint32_t pid, int wait,
                                 int64_t sleep_ns) {
    hfr_config *c = hfr_cfg(base);
    p->base = base;
    p->data = base + c->data_offset;
    p->capacity = c->capacity;
    p->mask = c->capacity - 1;
    p->record_size = c->record_size;
    p->mode = c->mode;
    p->max_consumers = c->max_consumers;
    p->stall_ns = c->stall_timeout_ns;
    p->pid = pid;
    p->wait = wait;
    p->sleep_ns = sleep_ns;
    p->head = __atomic_load_n(&hfr_prod(base)->head, __ATOMIC_ACQUIRE);
    p->claim = __atomic_load_n(&hfr_prod(base)->claim, __ATOMIC_ACQUIRE);
    p->limit = p->head;   /* forces a scan on the first publish */
    p->blocked_since = 0;
    p->last_liveness = 0;
}

/* Evict consumer i if it is still in ``state`` (the producer stops waiting for it). */
static inline void hfr_evict(hfr_prod_local *p, uint32_t i) {
    hfr_consumer *k = hfr_cons(p->base, i);
    uint32_t expected = HFR_ACTIVE;
    if (__atomic_compare_exchange_n(&k->state, &expected, HFR_EVICTED, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_RELAXED)) {
        __atomic_fetch_add(&k->evicted, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&hfr_prod(p->base)->evictions, 1, __ATOMIC_RELAXED);
    }
}

/* Recompute how far head may go: the slowest active consumer's tail + capacity.  Consumers
 * already lapped (only an evicted consumer that rejoined can be) do not hold the producer. */
static inline void hfr_prod_scan(hfr_prod_local *p) {
    uint64_t lowest = p->head;
    uint32_t i;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);   /* pairs with the fence in hfr_cons_join */
    for (i = 0; i < p->max_consumers; i++) {
        hfr_consumer *k = hfr_cons(p->base, i);
        if (__atomic_load_n(&k->state, __ATOMIC_ACQUIRE) != HFR_ACTIVE) continue;
        uint64_t t = __atomic_load_n(&k->tail, __ATOMIC_ACQUIRE);
        if (p->head - t > p->capacity) continue;
        if (t < lowest) lowest = t;
    }
    p->limit = lowest + p->capacity;
}

/* While blocked: evict consumers whose process is gone (checked every millisecond), and,
 * after stall_ns without progress, the consumers that still hold the producer. */
static inline void hfr_prod_check_stalled(hfr_prod_local *p, uint64_t need, int64_t now) {
    int stalled;
    uint32_t i;
    if (p->blocked_since == 0) {
        p->blocked_since = now;
        p->last_liveness = now;
        return;
    }
    stalled = p->stall_ns != 0 && (uint64_t)(now - p->blocked_since) >= p->stall_ns;
    if (!stalled && now - p->last_liveness < 1000000) return;
    p->last_liveness = now;
    for (i = 0; i < p->max_consumers; i++) {
        hfr_consumer *k = hfr_cons(p->base, i);
        if (__atomic_load_n(&k->state, __ATOMIC_ACQUIRE) != HFR_ACTIVE) continue;
        uint64_t t = __atomic_load_n(&k->tail, __ATOMIC_ACQUIRE);
        if (p->head + need - t <= p->capacity) continue;   /* not the one holding us */
        if (stalled || !hfr_pid_alive(__atomic_load_n(&k->pid, __ATOMIC_RELAXED)))
            hfr_evict(p, i);
    }
    if (stalled) p->blocked_since = now;
}

/* Free slots available now (rescanning the consumers when the cached limit is too low). */
static inline uint64_t hfr_prod_space(hfr_prod_local *p, uint64_t want) {
    if (p->mode == HFR_OVERWRITE) return p->capacity;
    if (p->limit - p->head >= want) return p->limit - p->head;
    hfr_prod_scan(p);
    return p->limit - p->head;
}

/* Wait until ``want`` slots are free (want <= capacity).  Returns the free count, 0 when full
 * in fail mode (counted in ``rejected`` by the caller), HFR_TIMEOUT after timeout_ns (<0: no
 * limit). */
static inline int64_t hfr_prod_wait_space(hfr_prod_local *p, uint64_t want, int64_t timeout_ns) {
    uint64_t space = hfr_prod_space(p, want);
    int64_t start = 0;
    uint32_t spins = 0;
    if (space >= want || p->mode == HFR_FAIL) {
        p->blocked_since = 0;
        return (int64_t)space;
    }
    if (timeout_ns == 0) return HFR_TIMEOUT;
    for (;;) {
        if ((++spins & hfr_clock_mask(p->wait)) == 0) {
            int64_t now = hfr_monotonic_ns();
            hfr_prod_check_stalled(p, want, now);
            if (start == 0) start = now;
            else if (timeout_ns > 0 && now - start >= timeout_ns) return HFR_TIMEOUT;
        }
        hfr_wait_step(p->wait, p->sleep_ns);
        hfr_prod_scan(p);
        space = p->limit - p->head;
        if (space >= want) {
            p->blocked_since = 0;
            return (int64_t)space;
        }
    }
}

static inline void hfr_prod_copy_in(hfr_prod_local *p, uint64_t seq, const uint8_t *src,
                                    uint64_t n) {
    uint64_t rs = p->record_size;
    uint64_t i = seq & p->mask;
    uint64_t first = p->capacity - i;
    if (first > n) first = n;
    memcpy(p->data + i * rs, src, first * rs);
    if (n > first) memcpy(p->data, src + first * rs, (n - first) * rs);
}

static inline void hfr_prod_begin(hfr_prod_local *p, uint64_t n) {
    /* never lower: slots handed out by a claim that was then cancelled may hold scribbles */
    if (p->head + n > p->claim) p->claim = p->head + n;
    __atomic_store_n(&hfr_prod(p->base)->claim, p->claim, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

static inline void hfr_prod_end(hfr_prod_local *p, uint64_t n) {
    p->head += n;
    __atomic_store_n(&hfr_prod(p->base)->head, p->head, __ATOMIC_RELEASE);
}

/* Publish up to n records, as many at a time as there is room for.  Returns how many were
 * published: all of them in overwrite mode and in block mode (fewer when timeout_ns expired,
 * reported through *timed_out); as many as fit in fail mode (the rest counted in
 * ``rejected``). */
static inline uint64_t hfr_publish(hfr_prod_local *p, const void *src, uint64_t n,
                                   int64_t timeout_ns, int *timed_out) {
    const uint8_t *s = (const uint8_t *)src;
    uint64_t done = 0;
    *timed_out = 0;
    while (done < n) {
        uint64_t want = n - done;
        int64_t space;
        if (want > p->capacity) want = p->capacity;
        /* wait for room for the whole batch: handing records over a few at a time when the
         * ring is full would make both sides pay a cache-line round trip per few records */
        space = hfr_prod_wait_space(p, want, timeout_ns);
        if (space == HFR_TIMEOUT) {
            *timed_out = 1;
            space = (int64_t)hfr_prod_space(p, 1);   /* timed out: publish what fits */
            if (space == 0) break;
        }
        if ((uint64_t)space < want) want = (uint64_t)space;
        if (want == 0) break;   /* fail mode: full */
        hfr_prod_begin(p, want);
        hfr_prod_copy_in(p, p->head, s + done * p->record_size, want);
        hfr_prod_end(p, want);
        done += want;
        if (*timed_out) break;
    }
    if (done < n && p->mode == HFR_FAIL)
        __atomic_fetch_add(&hfr_prod(p->base)->rejected, n - done, __ATOMIC_RELAXED);
    return done;
}

/* Zero-copy write: reserve up to n contiguous slots (fewer at the end of the buffer or when
 * less room is free).  Returns
 * the count (0 when full in fail mode, HFR_TIMEOUT in block mode) and the first slot. */
static inline int64_t hfr_claim(hfr_prod_local *p, uint64_t n, int64_t timeout_ns,
                                uint8_t **slot) {
    uint64_t i = p->head & p->mask;
    uint64_t contiguous = p->capacity - i;
    int64_t space;
    if (n > contiguous) n = contiguous;
    if (n == 0) return 0;
    space = hfr_prod_wait_space(p, n, timeout_ns);
    if (space == HFR_TIMEOUT) {
        space = (int64_t)hfr_prod_space(p, 1);   /* timed out: take what is free */
        if (space == 0) return HFR_TIMEOUT;
    }
    if ((uint64_t)space < n) n = (uint64_t)space;
    if (n == 0) return 0;
    hfr_prod_begin(p, n);
    *slot = p->data + i * p->record_size;
    return (int64_t)n;
}

static inline void hfr_commit(hfr_prod_local *p, uint64_t n) { hfr_prod_end(p, n); }

static inline uint32_t hfr_prod_pid(hfr_producer *p) {
    return __atomic_load_n(&p->pid, __ATOMIC_ACQUIRE);
}

/* Take (or give back) the producer role: pid old -> me, atomically. */
static inline int hfr_prod_swap_pid(hfr_producer *p, uint32_t old, uint32_t me) {
    return __atomic_compare_exchange_n(&p->pid, &old, me, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

static inline void hfr_count_rejected(uint8_t *base, uint64_t n) {
    __atomic_fetch_add(&hfr_prod(base)->rejected, n, __ATOMIC_RELAXED);
}

static inline void hfr_close(uint8_t *base) {
    __atomic_store_n(&hfr_prod(base)->closed, 1, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------------------------------------------ */
/* consumer                                                                                   */

/* Make the consumer active: from the current head (how == HFR_START_LATEST), from the oldest
 * record still held (HFR_START_OLDEST), or, after an eviction, from where it was
 * (HFR_START_REJOIN: records the producer lapped meanwhile are counted as lost).  The seq_cst
 * fence pairs with the producer's before its scan: a producer that did not see this consumer
 * active had published no more than the head read here, so it cannot lap the new tail. */
static inline void hfr_cons_join(hfr_cons_local *c, int how) {
    hfr_consumer *k = hfr_cons(c->base, c->index);
    uint64_t h, t;
    __atomic_store_n(&k->state, HFR_ACTIVE, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    h = __atomic_load_n(&hfr_prod(c->base)->head, __ATOMIC_ACQUIRE);
    if (how == HFR_START_LATEST) {
        t = h;
    } else if (how == HFR_START_OLDEST) {
        t = h > c->capacity ? h - c->capacity : 0;
    } else {
        t = c->tail;
        if (h - t > c->capacity) {
            c->lost += h - c->capacity - t;
            t = h - c->capacity;
        }
    }
    c->tail = t;
    __atomic_store_n(&k->tail, t, __ATOMIC_RELEASE);
    __atomic_store_n(&k->lost, c->lost, __ATOMIC_RELAXED);
}

/* Take a free consumer line (or one whose process died).  Returns its index or -1. */
static inline int hfr_cons_open(hfr_cons_local *c, uint8_t *base, uint32_t pid, int wait,
                                int64_t sleep_ns, int how) {
    hfr_config *cf = hfr_cfg(base);
    uint32_t i;
    for (i = 0; i < cf->max_consumers; i++) {
        hfr_consumer *k = hfr_cons(base, i);
        uint32_t st = __atomic_load_n(&k->state, __ATOMIC_ACQUIRE);
        if (st != HFR_FREE) {
            uint32_t owner = __atomic_load_n(&k->pid, __ATOMIC_RELAXED);
            if (st == HFR_JOINING || hfr_pid_alive(owner)) continue;
        }
        if (!__atomic_compare_exchange_n(&k->state, &st, HFR_JOINING, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_RELAXED))
            continue;
        c->base = base;
        c->data = base + cf->data_offset;
        c->capacity = cf->capacity;
        c->mask = cf->capacity - 1;
        c->record_size = cf->record_size;
        c->index = i;
        c->pid = pid;
        c->wait = wait;
        c->sleep_ns = sleep_ns;
        c->lost = 0;
        c->batch_seq = 0;
        c->tail = 0;
        c->last_liveness = 0;
        __atomic_store_n(&k->pid, pid, __ATOMIC_RELAXED);
        __atomic_store_n(&k->lost, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&k->evicted, 0, __ATOMIC_RELAXED);
        hfr_cons_join(c, how);
        return (int)i;
    }
    return -1;
}

static inline void hfr_cons_close(hfr_cons_local *c) {
    hfr_consumer *k = hfr_cons(c->base, c->index);
    __atomic_store_n(&k->pid, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&k->state, HFR_FREE, __ATOMIC_RELEASE);
}

static inline uint64_t hfr_cons_available(hfr_cons_local *c) {
    return __atomic_load_n(&hfr_prod(c->base)->head, __ATOMIC_ACQUIRE) - c->tail;
}

/* Copy up to max records into dst without waiting.  Records that were overwritten before they
 * were read (or while they were being copied) are skipped and added to ``lost``; the sequence
 * number of the first record copied is left in batch_seq. */
static inline uint64_t hfr_read(hfr_cons_local *c, void *dst, uint64_t max) {
    hfr_consumer *k = hfr_cons(c->base, c->index);
    uint8_t *d = (uint8_t *)dst;
    uint64_t rs = c->record_size;
    for (;;) {
        uint64_t t = c->tail;
        /* claim first: slots below claim - capacity are (being) rewritten, skip them now
         * rather than copy them and throw them away */
        uint64_t claim = __atomic_load_n(&hfr_prod(c->base)->claim, __ATOMIC_ACQUIRE);
        uint64_t h = __atomic_load_n(&hfr_prod(c->base)->head, __ATOMIC_ACQUIRE);
        uint64_t n, i, first;
        if (__atomic_load_n(&k->state, __ATOMIC_RELAXED) == HFR_EVICTED) {
            uint32_t st = HFR_EVICTED;
            if (__atomic_compare_exchange_n(&k->state, &st, HFR_JOINING, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_RELAXED))
                hfr_cons_join(c, HFR_START_REJOIN);
            continue;
        }
        if (h == t || max == 0) return 0;
        if (h - t > c->capacity) {
            c->lost += h - t - c->capacity;
            t = h - c->capacity;
        }
        if (claim - t > c->capacity && claim - c->capacity <= h) {
            c->lost += claim - c->capacity - t;
            t = claim - c->capacity;
        }
        if (h == t) {
            c->tail = t;
            __atomic_store_n(&k->tail, t, __ATOMIC_RELEASE);
            __atomic_store_n(&k->lost, c->lost, __ATOMIC_RELAXED);
            return 0;
        }
        n = h - t;
        if (n > max) n = max;
        i = t & c->mask;
        first = c->capacity - i;
        if (first > n) first = n;
        memcpy(d, c->data + i * rs, first * rs);
        if (n > first) memcpy(d + first * rs, c->data, (n - first) * rs);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        claim = __atomic_load_n(&hfr_prod(c->base)->claim, __ATOMIC_RELAXED);
        if (claim - t > c->capacity) {
            uint64_t bad = claim - c->capacity - t;   /* records [t, t + bad) may be torn */
            c->lost += bad;
            if (bad >= n) {
                c->tail = t + bad;
                __atomic_store_n(&k->tail, c->tail, __ATOMIC_RELEASE);
                __atomic_store_n(&k->lost, c->lost, __ATOMIC_RELAXED);
                continue;
            }
            memmove(d, d + bad * rs, (n - bad) * rs);
            t += bad;
            n -= bad;
        }
        c->batch_seq = t;
        c->tail = t + n;
        __atomic_store_n(&k->tail, c->tail, __ATOMIC_RELEASE);
        __atomic_store_n(&k->lost, c->lost, __ATOMIC_RELAXED);
        return n;
    }
}

/* Wait until at least one record is readable.  Returns the count available, HFR_CLOSED when
 * the producer closed the ring (or its process died) and everything was read, HFR_TIMEOUT
 * after timeout_ns (<0: no limit). */
static inline int64_t hfr_wait_readable(hfr_cons_local *c, int64_t timeout_ns) {
    int64_t start = 0;
    uint32_t spins = 0;
    hfr_producer *pr = hfr_prod(c->base);
    for (;;) {
        uint64_t avail = hfr_cons_available(c);
        if (avail) return (int64_t)(avail > INT64_MAX ? INT64_MAX : avail);
        if (__atomic_load_n(&pr->closed, __ATOMIC_ACQUIRE)) {
            if (hfr_cons_available(c) == 0) return HFR_CLOSED;
            continue;
        }
        if (timeout_ns == 0) return HFR_TIMEOUT;
        if ((++spins & hfr_clock_mask(c->wait)) == 0) {
            int64_t now = hfr_monotonic_ns();
            if (start == 0) start = now;
            else if (timeout_ns > 0 && now - start >= timeout_ns) return HFR_TIMEOUT;
            if (now - c->last_liveness >= 100000000) {   /* every 100 ms: is the producer alive */
                uint32_t pp = __atomic_load_n(&pr->pid, __ATOMIC_RELAXED);
                c->last_liveness = now;
                if (pp != 0 && !hfr_pid_alive(pp) && hfr_cons_available(c) == 0)
                    return HFR_CLOSED;
            }
        }
        hfr_wait_step(c->wait, c->sleep_ns);
    }
}

#endif
