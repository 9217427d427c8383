/* A small Gearman load generator for benchmarks/server.py (compiled at run time).
 *
 * One thread, poll(), every connection non-blocking. Modes:
 *   rt    HOST PORT CLIENTS WORKERS INFLIGHT SECONDS SIZE   foreground round trips
 *   bg    HOST PORT N SIZE                                  background submits
 *   drain HOST PORT WORKERS                                 grab+complete until NO_JOB
 *   big   HOST PORT SIZE COUNT                              one client, one worker
 *   serve HOST PORT WORKERS [FUNCTION]                      echo workers until killed
 * A leading -u makes the workers grab with GRAB_JOB_UNIQ (JOB_ASSIGN_UNIQ answers) instead
 * of GRAB_JOB, for servers that only implement that one (the Python gear server).
 * Prints one line of "key=value" results, including cpu= (our own CPU seconds / wall);
 * serve prints nothing: it answers every job of FUNCTION (default "bench") with its
 * own data, for benchmarks/transports.py, whose clients are the ones measured.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { CAN_DO = 1, PRE_SLEEP = 4, NOOP = 6, SUBMIT_JOB = 7, JOB_CREATED = 8, GRAB_JOB = 9,
       NO_JOB = 10, JOB_ASSIGN = 11, WORK_COMPLETE = 13, SUBMIT_JOB_BG = 18,
       GRAB_JOB_UNIQ = 30, JOB_ASSIGN_UNIQ = 31 };
static int GRAB = GRAB_JOB;

typedef struct {
    int fd, worker;
    char *in; size_t in_len, in_cap;
    char *out; size_t out_len, out_off, out_cap;
    double starts[64]; int n_starts;          /* submit times waiting for JOB_CREATED */
    char handles[64][64]; double hstart[64]; int n_handles;
    long created, done;
} conn_t;

static double now(void) {
    struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}
static double cpu(void) {
    struct rusage ru; getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}
static void die(const char *m) { perror(m); exit(1); }

static int dial(const char *host, int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET; a.sin_port = htons(port); inet_pton(AF_INET, host, &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static void reserve(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return;
    size_t c = *cap ? *cap : 65536;
    while (c < need) c *= 2;
    *buf = realloc(*buf, c); if (!*buf) die("realloc");
    *cap = c;
}

static void put(conn_t *c, int type, const char *a, size_t alen, const char *b, size_t blen,
                const char *d, size_t dlen, int nul_a, int nul_b) {
    size_t size = alen + nul_a + blen + nul_b + dlen;
    reserve(&c->out, &c->out_cap, c->out_len + 12 + size);
    char *p = c->out + c->out_len;
    memcpy(p, "\0REQ", 4);
    uint32_t t = htonl(type), s = htonl((uint32_t)size);
    memcpy(p + 4, &t, 4); memcpy(p + 8, &s, 4); p += 12;
    memcpy(p, a, alen); p += alen; if (nul_a) *p++ = 0;
    memcpy(p, b, blen); p += blen; if (nul_b) *p++ = 0;
    memcpy(p, d, dlen);
    c->out_len += 12 + size;
}

static char *payload; static size_t psize;
static const char *FUNC = "bench";

static void submit(conn_t *c, int type) {
    put(c, type, FUNC, strlen(FUNC), "", 0, payload, psize, 1, 1);
    if (c->n_starts < 64) c->starts[c->n_starts++] = now();
}

static int flush_out(conn_t *c) {
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) { if (errno == EAGAIN) return 0; die("send"); }
        c->out_off += n;
    }
    c->out_len = c->out_off = 0;
    return 1;
}

static double *lat; static long n_lat, cap_lat;
static long total_done, noops;
static int mode_rt;

/* handle one packet; returns 0 normally, 1 when a drain worker saw NO_JOB */
static int packet(conn_t *c, int type, char *body, uint32_t size) {
    if (c->worker) {
        if (type == JOB_ASSIGN || type == JOB_ASSIGN_UNIQ) {
            char *h = body, *nul = memchr(body, 0, size);
            size_t hl = nul - h;
            char *f = nul + 1, *nul2 = memchr(f, 0, size - hl - 1);
            char *data = nul2 + 1;
            if (type == JOB_ASSIGN_UNIQ) data = (char *)memchr(data, 0, size - (data - body)) + 1;
            size_t dl = size - (data - body);
            put(c, WORK_COMPLETE, h, hl, "", 0, data, dl, 1, 0);
            put(c, GRAB, "", 0, "", 0, "", 0, 0, 0);
            c->done++; if (!mode_rt) total_done++;
        } else if (type == NO_JOB) {
            if (!mode_rt) return 1;
            put(c, PRE_SLEEP, "", 0, "", 0, "", 0, 0, 0);
        } else if (type == NOOP) {
            noops++;
            put(c, GRAB, "", 0, "", 0, "", 0, 0, 0);
        }
        return 0;
    }
    if (type == JOB_CREATED) {
        c->created++;
        double st = c->n_starts ? c->starts[0] : now();
        if (c->n_starts) { memmove(c->starts, c->starts + 1, (--c->n_starts) * sizeof(double)); }
        if (mode_rt && c->n_handles < 64 && size < 64) {
            memcpy(c->handles[c->n_handles], body, size); c->handles[c->n_handles][size] = 0;
            c->hstart[c->n_handles++] = st;
        }
    } else if (type == WORK_COMPLETE) {
        char *nul = memchr(body, 0, size); size_t hl = nul ? (size_t)(nul - body) : size;
        for (int i = 0; i < c->n_handles; i++) {
            if (strlen(c->handles[i]) == hl && !memcmp(c->handles[i], body, hl)) {
                if (n_lat == cap_lat) { cap_lat = cap_lat ? cap_lat * 2 : 65536; lat = realloc(lat, cap_lat * sizeof *lat); }
                lat[n_lat++] = now() - c->hstart[i];
                memmove(c->handles[i], c->handles[i + 1], (c->n_handles - i - 1) * 64);
                memmove(c->hstart + i, c->hstart + i + 1, (c->n_handles - i - 1) * sizeof(double));
                c->n_handles--;
                break;
            }
        }
        c->done++; total_done++;
        submit(c, SUBMIT_JOB);
    }
    return 0;
}

static int readable(conn_t *c) {
    reserve(&c->in, &c->in_cap, c->in_len + 262144);
    ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    if (n == 0) { fprintf(stderr, "server closed\n"); exit(1); }
    if (n < 0) { if (errno == EAGAIN) return 0; die("recv"); }
    c->in_len += n;
    size_t off = 0; int stop = 0;
    while (c->in_len - off >= 12) {
        uint32_t t, s; memcpy(&t, c->in + off + 4, 4); memcpy(&s, c->in + off + 8, 4);
        t = ntohl(t); s = ntohl(s);
        if (c->in_len - off < 12 + (size_t)s) { reserve(&c->in, &c->in_cap, off + 12 + s); break; }
        stop |= packet(c, t, c->in + off + 12, s);
        off += 12 + s;
    }
    memmove(c->in, c->in + off, c->in_len - off); c->in_len -= off;
    return stop;
}

static void add_worker(conn_t *c, const char *host, int port) {
    c->fd = dial(host, port); c->worker = 1;
    put(c, CAN_DO, FUNC, strlen(FUNC), "", 0, "", 0, 0, 0);
    put(c, GRAB, "", 0, "", 0, "", 0, 0, 0);
    flush_out(c);
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y;
}

static void loop(conn_t *cs, int n, double until, long target, int stop_on_nojob) {
    struct pollfd *p = calloc(n, sizeof *p);
    int stopped = 0;
    while (1) {
        if (until && now() >= until) break;
        if (target && total_done >= target) break;
        if (stop_on_nojob && stopped >= stop_on_nojob) break;
        for (int i = 0; i < n; i++) {
            flush_out(&cs[i]);
            p[i].fd = cs[i].fd; p[i].events = POLLIN | (cs[i].out_len ? POLLOUT : 0);
        }
        if (poll(p, n, 100) < 0) die("poll");
        for (int i = 0; i < n; i++) {
            if (p[i].revents & POLLIN) stopped += readable(&cs[i]);
            if (p[i].revents & POLLOUT) flush_out(&cs[i]);
        }
    }
    free(p);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "-u")) { GRAB = GRAB_JOB_UNIQ; argv++; argc--; }
    if (argc < 4) { fprintf(stderr, "usage: see source\n"); return 2; }
    const char *mode = argv[1], *host = argv[2]; int port = atoi(argv[3]);
    double w0 = now(), c0 = cpu();
    if (!strcmp(mode, "serve")) {
        int nw = atoi(argv[4]);
        if (argc > 5) FUNC = argv[5];
        mode_rt = 1;
        conn_t *cs = calloc(nw, sizeof *cs);
        for (int i = 0; i < nw; i++) add_worker(&cs[i], host, port);
        loop(cs, nw, 0, 0, 0);
    } else if (!strcmp(mode, "rt")) {
        int nc = atoi(argv[4]), nw = atoi(argv[5]), inflight = atoi(argv[6]);
        double secs = atof(argv[7]); psize = atol(argv[8]);
        payload = malloc(psize); memset(payload, 'x', psize);
        mode_rt = 1;
        conn_t *cs = calloc(nc + nw, sizeof *cs);
        for (int i = 0; i < nw; i++) add_worker(&cs[i], host, port);
        usleep(200000);
        for (int i = nw; i < nw + nc; i++) {
            cs[i].fd = dial(host, port);
            for (int k = 0; k < inflight; k++) submit(&cs[i], SUBMIT_JOB);
        }
        /* warm up 0.5 s, then measure */
        loop(cs, nc + nw, now() + 0.5, 0, 0);
        total_done = 0; n_lat = 0; w0 = now(); c0 = cpu();
        loop(cs, nc + nw, now() + secs, 0, 0);
        double wall = now() - w0;
        qsort(lat, n_lat, sizeof *lat, cmp);
        printf("jobs=%ld rate=%.0f p50_ms=%.3f p99_ms=%.3f cpu=%.3f\n", total_done,
               total_done / wall, n_lat ? lat[n_lat / 2] * 1e3 : 0,
               n_lat ? lat[(long)(n_lat * 0.99)] * 1e3 : 0, (cpu() - c0) / wall);
    } else if (!strcmp(mode, "bg")) {
        long n = atol(argv[4]); psize = atol(argv[5]);
        payload = malloc(psize); memset(payload, 'x', psize);
        conn_t c = {0}; c.fd = dial(host, port);
        char uniq[32];
        long sent = 0;
        struct pollfd p;
        while (c.created < n) {
            while (sent < n && sent - c.created < 20000 && c.out_len < (1 << 20)) {
                int ul = snprintf(uniq, sizeof uniq, "u%ld", sent);
                put(&c, SUBMIT_JOB_BG, FUNC, strlen(FUNC), uniq, ul, payload, psize, 1, 1);
                sent++;
            }
            flush_out(&c);
            p.fd = c.fd; p.events = POLLIN | (c.out_len ? POLLOUT : 0);
            if (poll(&p, 1, 1000) < 0) die("poll");
            if (p.revents & POLLIN) readable(&c);
        }
        double wall = now() - w0;
        printf("jobs=%ld rate=%.0f cpu=%.3f\n", n, n / wall, (cpu() - c0) / wall);
    } else if (!strcmp(mode, "drain")) {
        int nw = atoi(argv[4]);
        conn_t *cs = calloc(nw, sizeof *cs);
        for (int i = 0; i < nw; i++) add_worker(&cs[i], host, port);
        loop(cs, nw, 0, 0, nw);
        double wall = now() - w0;
        printf("jobs=%ld rate=%.0f cpu=%.3f\n", total_done, total_done / wall, (cpu() - c0) / wall);
    } else if (!strcmp(mode, "big")) {
        psize = atol(argv[4]); long count = atol(argv[5]);
        payload = malloc(psize); memset(payload, 'y', psize);
        mode_rt = 1;
        conn_t *cs = calloc(2, sizeof *cs);
        add_worker(&cs[0], host, port);
        usleep(200000);
        cs[1].fd = dial(host, port);
        w0 = now(); c0 = cpu();
        submit(&cs[1], SUBMIT_JOB);
        loop(cs, 2, 0, count, 0);
        double wall = now() - w0;
        qsort(lat, n_lat, sizeof *lat, cmp);
        printf("jobs=%ld rate=%.2f p50_ms=%.1f MBps=%.1f cpu=%.3f\n", total_done,
               total_done / wall, n_lat ? lat[n_lat / 2] * 1e3 : 0,
               total_done * 2.0 * psize / wall / 1e6, (cpu() - c0) / wall);
    }
    return 0;
}
