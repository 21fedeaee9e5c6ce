/* A C program reading a segment that Rust made: a `Value<Demo>`, where
 * `layout.h` is the header `shmstruct layout NAME --format c` printed for
 * it. It finds the data through the segment's fixed header (the offsets
 * documented in shmstruct::segment::header), takes the segment's own
 * robust mutex with pthread_mutex_lock (recovering it with
 * pthread_mutex_consistent if its holder died), copies the value, unlocks,
 * and prints the value as JSON, as `shmstruct show NAME --json` does.
 *
 *   shmstruct layout demo --format c > layout.h
 *   cc -std=c11 -Wall -Werror -pthread -o c_reader examples/c_reader.c
 *   ./c_reader /dev/shm/demo
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"

/* The fixed header (shmstruct::segment::header), in the machine's byte order. */
#define MAGIC "SHMSTRCT"
#define OFFSET_VERSION 8
#define OFFSET_STATE 12
#define OFFSET_LOCK_OFFSET 64
#define OFFSET_DATA_OFFSET 80
#define OFFSET_DATA_SIZE 88
#define OFFSET_LOCK_MODE 104
#define HEADER_VERSION 1
#define STATE_READY 1
#define LOCK_OWN 1
#define LOCK_AREA_SIZE 128

static uint32_t u32_at(const unsigned char *base, size_t offset) {
    uint32_t value;
    memcpy(&value, base + offset, sizeof value);
    return value;
}

static uint64_t u64_at(const unsigned char *base, size_t offset) {
    uint64_t value;
    memcpy(&value, base + offset, sizeof value);
    return value;
}

static int fail(const char *what) {
    fprintf(stderr, "c_reader: %s\n", what);
    return 1;
}

/* A byte string as a JSON string, up to its first NUL. */
static void print_bytes(const char *bytes, size_t capacity) {
    putchar('"');
    for (size_t i = 0; i < capacity && bytes[i] != '\0'; i++) {
        unsigned char c = (unsigned char)bytes[i];
        if (c == '"' || c == '\\') {
            printf("\\%c", c);
        } else if (c < 0x20 || c > 0x7e) {
            printf("\\u%04x", c);
        } else {
            putchar(c);
        }
    }
    putchar('"');
}

int main(int argc, char **argv) {
    if (argc != 2) {
        return fail("usage: c_reader SEGMENT-FILE");
    }
    int fd = open(argv[1], O_RDWR);
    if (fd < 0) {
        return fail("cannot open the segment");
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 128) {
        return fail("not a segment: too short");
    }
    size_t length = (size_t)st.st_size;
    unsigned char *base = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (base == MAP_FAILED) {
        return fail("cannot map the segment");
    }
    if (memcmp(base, MAGIC, 8) != 0 || u32_at(base, OFFSET_VERSION) != HEADER_VERSION) {
        return fail("not a shmstruct segment of header version 1");
    }
    if (__atomic_load_n((uint32_t *)(base + OFFSET_STATE), __ATOMIC_ACQUIRE) != STATE_READY) {
        return fail("the segment is still initialising");
    }
    uint64_t lock_offset = u64_at(base, OFFSET_LOCK_OFFSET);
    uint64_t data_offset = u64_at(base, OFFSET_DATA_OFFSET);
    uint64_t data_size = u64_at(base, OFFSET_DATA_SIZE);
    if (u32_at(base, OFFSET_LOCK_MODE) != LOCK_OWN) {
        return fail("the segment has no lock of its own");
    }
    if (data_size != sizeof(Demo) || data_offset % _Alignof(Demo) != 0 ||
        data_offset > length - sizeof(Demo) || lock_offset % 64 != 0 ||
        lock_offset > length - LOCK_AREA_SIZE) {
        return fail("the header does not describe a Demo inside the file");
    }

    pthread_mutex_t *mutex = (pthread_mutex_t *)(base + lock_offset);
    int locked = pthread_mutex_lock(mutex);
    if (locked == EOWNERDEAD) {
        /* As shmstruct does: mark the data poisoned (the u32 at lock area
         * + 64, under the lock) so every process is told it may be
         * half-written, make the sequence word (the u64 at lock area + 72,
         * which the dead holder may have left odd) even again so lock-free
         * readers stop waiting for it, and mark the mutex consistent so it
         * stays usable. This program only reads, so it does not bump the
         * sequence word otherwise; one that writes under the mutex must
         * make it odd after locking and even before unlocking. */
        __atomic_store_n((uint32_t *)(base + lock_offset + 64), 1, __ATOMIC_RELAXED);
        uint64_t *sequence = (uint64_t *)(base + lock_offset + 72);
        uint64_t seen = __atomic_load_n(sequence, __ATOMIC_RELAXED);
        if (seen & 1) {
            __atomic_store_n(sequence, seen + 1, __ATOMIC_RELEASE);
        }
        fprintf(stderr, "c_reader: the lock's holder died; data marked poisoned, lock consistent\n");
        if (pthread_mutex_consistent(mutex) != 0) {
            return fail("pthread_mutex_consistent failed");
        }
    } else if (locked != 0) {
        fprintf(stderr, "c_reader: pthread_mutex_lock: %s\n", strerror(locked));
        return 1;
    }
    Demo demo;
    memcpy(&demo, base + data_offset, sizeof demo);
    if (pthread_mutex_unlock(mutex) != 0) {
        return fail("pthread_mutex_unlock failed");
    }
    munmap(base, length);

    printf("{\"n\": %d, \"x\": %.17e, \"s\": ", (int)demo.n, demo.x);
    print_bytes(demo.s, sizeof demo.s);
    printf(", \"a\": [");
    for (size_t i = 0; i < sizeof demo.a / sizeof demo.a[0]; i++) {
        printf("%s{\"x\": %.17e, \"y\": %.17e}", i ? ", " : "", demo.a[i].x, demo.a[i].y);
    }
    printf("]}\n");
    return 0;
}
