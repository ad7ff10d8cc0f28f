/* Plain-C floor for the ring benchmarks: one producer thread and one consumer thread moving
 * 64-byte records through a power-of-two ring with acquire/release cursors on separate cache
 * lines, in batches, copying each batch in and out with memcpy.  No validation, no loss
 * detection, no wait strategy (pure spin): what the hardware does with the same traffic.
 *
 *   double spsc_floor(uint64_t n, uint32_t batch, uint32_t capacity, int yield)
 *       -> seconds, <0 on error; yield != 0 waits with sched_yield() instead of a CPU pause
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REC 64

typedef struct {
    _Alignas(128) uint64_t head;
    _Alignas(128) uint64_t tail;
    _Alignas(128) uint8_t *slots;
    uint64_t capacity, mask, n;
    uint32_t batch;
    int yield;
    uint64_t checksum;
} floor_ring;

static void relax(const floor_ring *r) {
    if (r->yield) {
        sched_yield();
        return;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *producer(void *arg) {
    floor_ring *r = arg;
    uint8_t src[REC * 1024];
    uint64_t h = 0, limit = 0;
    memset(src, 1, sizeof src);
    while (h < r->n) {
        uint64_t k = r->n - h < r->batch ? r->n - h : r->batch;
        while (h + k > limit) {
            limit = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) + r->capacity;
            if (h + k > limit) relax(r);
        }
        for (uint64_t i = 0; i < k;) {
            uint64_t s = (h + i) & r->mask, run = r->capacity - s;
            if (run > k - i) run = k - i;
            memcpy(r->slots + s * REC, src + i * REC, run * REC);
            i += run;
        }
        h += k;
        __atomic_store_n(&r->head, h, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void *consumer(void *arg) {
    floor_ring *r = arg;
    uint8_t dst[REC * 1024];
    uint64_t t = 0, avail = 0, sum = 0;
    while (t < r->n) {
        while (avail == t) {
            avail = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
            if (avail == t) relax(r);
        }
        uint64_t k = avail - t < r->batch ? avail - t : r->batch;
        for (uint64_t i = 0; i < k;) {
            uint64_t s = (t + i) & r->mask, run = r->capacity - s;
            if (run > k - i) run = k - i;
            memcpy(dst + i * REC, r->slots + s * REC, run * REC);
            i += run;
        }
        sum += dst[0];
        t += k;
        __atomic_store_n(&r->tail, t, __ATOMIC_RELEASE);
    }
    r->checksum = sum;
    return NULL;
}

double spsc_floor(uint64_t n, uint32_t batch, uint32_t capacity, int yield) {
    floor_ring *r;
    pthread_t a, b;
    struct timespec t0, t1;
    if (batch == 0 || batch > 1024 || capacity < batch || (capacity & (capacity - 1)))
        return -1.0;
    if (posix_memalign((void **)&r, 128, sizeof *r)) return -1.0;
    memset(r, 0, sizeof *r);
    if (posix_memalign((void **)&r->slots, 4096, (size_t)capacity * REC)) return -1.0;
    memset(r->slots, 0, (size_t)capacity * REC);
    r->capacity = capacity;
    r->mask = capacity - 1;
    r->n = n;
    r->batch = batch;
    r->yield = yield;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_create(&b, NULL, consumer, r);
    pthread_create(&a, NULL, producer, r);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    free(r->slots);
    free(r);
    return (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
}
