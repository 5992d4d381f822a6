/* A scriptable stand-in for libnvidia-ml.so.1, built by tests/gpu_nvml.rs with `cc` and
 * loaded by clawvisor through LD_LIBRARY_PATH, so nvml-wrapper and clawvisor's NVML code run
 * for real. Each call re-reads the file named by FAKE_NVML_STATE, one directive a line:
 *
 *   init <code> | hang_init | count <n> | driver <version> | stride32
 *   handle_err <gpu> <code>
 *   name <key> <name> | mem <key> <total> <used> | mem_err <key> <code>
 *   util <key> <pct> | util_err <key> <code>
 *   compute|graphics <key> <pid>:<bytes|NA> ... | compute_err|graphics_err <key> <code>
 *   hang_compute <key> | mig <gpu> <slices>
 *
 * <key> is a GPU index ("0") or a MIG slice ("0:1"). Sizes take a G suffix (GiB). Codes are
 * nvml.h's: 3 NOT_SUPPORTED, 4 NO_PERMISSION, 15 GPU_IS_LOST, 18 LIB_RM_VERSION_MISMATCH,
 * 999 UNKNOWN. A hang lasts while its directive is in the file.
 *
 * Built with -DOLD_DRIVER it lacks nvmlDeviceGetMemoryInfo_v2 and the _v3 process calls, as
 * drivers before R510 do. With `stride32` the _v3 calls write 32-byte entries (drivers
 * 535.43-535.85); the _v2 calls always write 24-byte ones.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int nvmlReturn_t;
typedef void *nvmlDevice_t;
typedef struct { unsigned int version; unsigned long long total, reserved, free, used; } mem_v2;
typedef struct { unsigned long long total, free, used; } mem_v1;
typedef struct { unsigned int gpu, memory; } util_t;

#define OK 0
#define INVALID_ARG 2
#define NOT_SUPPORTED 3
#define NOT_FOUND 6
#define INSUFFICIENT_SIZE 7
#define NA 0xFFFFFFFFFFFFFFFFULL

static char state[1 << 16];

static void load(void) {
    state[0] = 0;
    const char *path = getenv("FAKE_NVML_STATE");
    if (!path) return;
    FILE *f = fopen(path, "r");
    if (!f) return;
    size_t n = fread(state, 1, sizeof state - 1, f);
    state[n] = 0;
    fclose(f);
}

/* The rest of the line after "<word> <key> " (or "<word> " when key is NULL); NULL if absent.
 * Copied into a static buffer. */
static const char *directive(const char *word, const char *key) {
    static char rest[4096];
    const char *line = state;
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[4096];
        if (len >= sizeof buf) len = sizeof buf - 1;
        memcpy(buf, line, len);
        buf[len] = 0;
        char *save = NULL;
        char *w = strtok_r(buf, " \t", &save);
        if (w && strcmp(w, word) == 0) {
            char *r = save ? save : "";
            if (!key) {
                snprintf(rest, sizeof rest, "%s", r);
                return rest;
            }
            char *k = strtok_r(NULL, " \t", &save);
            if (k && strcmp(k, key) == 0) {
                snprintf(rest, sizeof rest, "%s", save ? save : "");
                return rest;
            }
        }
        line = end ? end + 1 : line + len;
    }
    return NULL;
}

static int code_of(const char *word, const char *key) {
    const char *r = directive(word, key);
    return r ? atoi(r) : 0;
}

static unsigned long long size_of(const char *s, char **end) {
    if (strncmp(s, "NA", 2) == 0) { *end = (char *)s + 2; return NA; }
    unsigned long long v = strtoull(s, end, 10);
    if (**end == 'G') { v <<= 30; (*end)++; }
    return v;
}

static void hang_while(const char *word, const char *key) {
    while (directive(word, key)) { usleep(50000); load(); }
}

/* Handles: ((gpu + 1) << 8) | (slice + 1), slice part 0 for a whole GPU. */
static nvmlDevice_t handle(unsigned gpu, int slice) {
    return (nvmlDevice_t)(uintptr_t)(((gpu + 1) << 8) | (unsigned)(slice + 1));
}
static const char *key_of(nvmlDevice_t h) {
    static char k[32];
    uintptr_t v = (uintptr_t)h;
    unsigned gpu = (unsigned)(v >> 8) - 1, slice = (unsigned)(v & 0xff);
    if (slice) snprintf(k, sizeof k, "%u:%u", gpu, slice - 1);
    else snprintf(k, sizeof k, "%u", gpu);
    return k;
}

nvmlReturn_t nvmlInit_v2(void) {
    load();
    hang_while("hang_init", NULL);
    return code_of("init", NULL);
}
nvmlReturn_t nvmlInit(void) { return nvmlInit_v2(); }
nvmlReturn_t nvmlInitWithFlags(unsigned int flags) { (void)flags; return nvmlInit_v2(); }
nvmlReturn_t nvmlShutdown(void) { return OK; }
const char *nvmlErrorString(nvmlReturn_t r) { (void)r; return "fake NVML error"; }

nvmlReturn_t nvmlSystemGetDriverVersion(char *buf, unsigned int len) {
    load();
    const char *v = directive("driver", NULL);
    snprintf(buf, len, "%s", v ? v : "550.54.15");
    char *nl = strpbrk(buf, " \t\r");
    if (nl) *nl = 0;
    return OK;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *n) {
    load();
    const char *c = directive("count", NULL);
    *n = c ? (unsigned)atoi(c) : 1;
    return OK;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *h) {
    load();
    char k[16];
    snprintf(k, sizeof k, "%u", i);
    int e = code_of("handle_err", k);
    if (e) return e;
    unsigned n;
    nvmlDeviceGetCount_v2(&n);
    if (i >= n) return INVALID_ARG;
    *h = handle(i, -1);
    return OK;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t h, char *buf, unsigned int len) {
    const char *n = directive("name", key_of(h));
    snprintf(buf, len, "%s", n ? n : "Fake GPU");
    char *nl = strpbrk(buf, "\r");
    if (nl) *nl = 0;
    return OK;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t h, char *buf, unsigned int len) {
    const char *k = key_of(h);
    snprintf(buf, len, "%s-fake-%s", strchr(k, ':') ? "MIG" : "GPU", k);
    for (char *p = buf; *p; p++) if (*p == ':') *p = '-';
    return OK;
}

static nvmlReturn_t memory(nvmlDevice_t h, unsigned long long *total, unsigned long long *used) {
    load();
    int e = code_of("mem_err", key_of(h));
    if (e) return e;
    const char *m = directive("mem", key_of(h));
    *total = 16ULL << 30;
    *used = 1ULL << 30;
    if (m) {
        char *end;
        *total = size_of(m, &end);
        *used = size_of(end + 1, &end);
    }
    return OK;
}

#ifndef OLD_DRIVER
nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t h, mem_v2 *m) {
    unsigned long long total, used;
    nvmlReturn_t r = memory(h, &total, &used);
    if (r) return r;
    m->total = total; m->used = used; m->reserved = 0; m->free = total - used;
    return OK;
}
#endif

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t h, mem_v1 *m) {
    unsigned long long total, used;
    nvmlReturn_t r = memory(h, &total, &used);
    if (r) return r;
    m->total = total; m->used = used; m->free = total - used;
    return OK;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t h, util_t *u) {
    load();
    int e = code_of("util_err", key_of(h));
    if (e) return e;
    const char *p = directive("util", key_of(h));
    u->gpu = p ? (unsigned)atoi(p) : 0;
    u->memory = 0;
    return OK;
}

/* Fills `buf` with the processes of list `kind` ("compute"/"graphics"), `stride` bytes each:
 * pid (u32) at 0, usedGpuMemory (u64) at 8, gpuInstanceId and computeInstanceId (u32) at 16
 * and 20, usedGpuCcProtectedMemory (u64) at 24 in the 32-byte v3 entry. */
static nvmlReturn_t processes(const char *kind, nvmlDevice_t h, unsigned int *count, void *buf,
                              size_t stride) {
    load();
    const char *key = key_of(h);
    char word[32];
    if (strcmp(kind, "compute") == 0) hang_while("hang_compute", key);
    snprintf(word, sizeof word, "%s_err", kind);
    int e = code_of(word, key);
    if (e) return e;
    unsigned pids[256];
    unsigned long long mem[256];
    unsigned n = 0;
    const char *list = directive(kind, key);
    if (list) {
        char *p = (char *)list;
        while (*p && n < 256) {
            while (*p == ' ' || *p == '\t') p++;
            if (!*p || *p == '\n' || *p == '\r') break;
            pids[n] = (unsigned)strtoul(p, &p, 10);
            if (*p != ':') break;
            mem[n] = size_of(p + 1, &p);
            n++;
        }
    }
    if (*count < n || !buf) {
        *count = n;
        return n ? INSUFFICIENT_SIZE : OK;
    }
    for (unsigned i = 0; i < n; i++) {
        unsigned char *ent = (unsigned char *)buf + i * stride;
        memset(ent, 0, stride);
        memcpy(ent, &pids[i], 4);
        memcpy(ent + 8, &mem[i], 8);
        unsigned none = 0xFFFFFFFFu;
        memcpy(ent + 16, &none, 4);
        memcpy(ent + 20, &none, 4);
    }
    *count = n;
    return OK;
}

#ifndef OLD_DRIVER
static size_t v3_stride(void) { return directive("stride32", NULL) ? 32 : 24; }

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t h, unsigned int *c, void *b) {
    load();
    return processes("compute", h, c, b, v3_stride());
}
nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t h, unsigned int *c, void *b) {
    load();
    return processes("graphics", h, c, b, v3_stride());
}
#endif
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t h, unsigned int *c, void *b) {
    return processes("compute", h, c, b, 24);
}
nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v2(nvmlDevice_t h, unsigned int *c, void *b) {
    return processes("graphics", h, c, b, 24);
}

static unsigned slices(nvmlDevice_t h) {
    load();
    const char *m = directive("mig", key_of(h));
    return m ? (unsigned)atoi(m) : 0;
}

nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t h, unsigned int *current, unsigned int *pending) {
    if (!slices(h)) return NOT_SUPPORTED;
    *current = *pending = 1;
    return OK;
}

nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t h, unsigned int *n) {
    *n = slices(h);
    return *n ? OK : NOT_SUPPORTED;
}

nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t h, unsigned int i, nvmlDevice_t *out) {
    if (i >= slices(h)) return NOT_FOUND;
    *out = handle((unsigned)((uintptr_t)h >> 8) - 1, (int)i);
    return OK;
}
