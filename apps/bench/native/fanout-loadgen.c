/*
 * The subscriber side of the fan-out benchmark (apps/bench): N WebSocket connections that only count
 * the frames they get, and one publishing connection whose messages the server publishes to all of
 * them. Written in C so that it, not the server, has CPU to spare: a Node client at a few million
 * frames a second would be the bottleneck. Single-threaded, epoll, non-blocking sockets.
 *
 *   fanout-loadgen --port P [--port2 Q] [-c N] [-s BYTES] [-d SECONDS] [-w SECONDS] [-W WINDOW]
 *                  [--latency] [--pids PID,PID...]
 *
 * Subscribers connect to ws://127.0.0.1:P/sub (with --port2, every other one to Q: two server
 * processes sharing the topic through Redis); the publisher connects to P at /pub. Each published
 * message is a binary frame of BYTES bytes: 8 bytes of send time (CLOCK_MONOTONIC, ns), 8 bytes of
 * sequence number, then filler.
 *
 * Flow control: at most WINDOW messages are in flight (sent, and not yet delivered N times in
 * total), so no server ever queues without bound; once half the window is free it is topped up in
 * one burst. --latency is WINDOW 1: the next message leaves once the last delivery of the previous
 * one arrived, so latency is the fan-out's own, without queueing behind earlier messages.
 *
 * Before measuring it publishes probes until every subscriber has got one (so, with two processes,
 * the second one's Redis subscription is in place), then publishes for -w seconds of warm-up and -d
 * seconds of measurement. Prints one JSON line with the field names wsbench uses: msgs_per_s
 * (deliveries per second at the subscribers), mb_per_s_recv, lat_us {p50, p99, n} (send to delivery),
 * client_cpu_pct (this process), server_cpu_pct (the --pids, summed), published and delivered (since
 * the probes), and error counters (mismatches: a frame of another size).
 *
 * cc -O2 -Wall -Wextra -o fanout-loadgen fanout-loadgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_SIZE (256 * 1024)
#define HEAD_MAX 4096
#define HIST_US 1000000 /* latency histogram: 1 µs buckets up to 1 s, then one overflow bucket */
#define MAX_PIDS 8
#define STALL_NS (5ull * 1000000000ull)

enum state { HANDSHAKE, OPEN, DEAD };

struct conn {
    int fd;
    int is_pub;
    enum state state;
    char head[HEAD_MAX]; /* the 101 response while in HANDSHAKE */
    size_t head_len;
    unsigned char hdr[14]; /* an incomplete frame header */
    size_t hdr_len;
    int in_payload;
    int opcode;
    uint64_t left;          /* payload bytes of the current frame still to come */
    uint64_t frame_len;
    unsigned char cap[125]; /* the payload's first bytes: time and sequence, or a ping's payload */
    size_t cap_len;
    int seen_probe;
    unsigned char *out; /* pending output (publisher and pongs) */
    size_t out_len, out_cap;
    int want_out;
};

static int epfd;
static struct conn *conns;
static int nconns; /* subscribers + 1 publisher (the last) */
static int subscribers = 1000;
static size_t size = 32;
static double seconds = 4, warmup = 1;
static int window = 64;
static int ports[2];
static int nports = 1;
static int pids[MAX_PIDS];
static int npids;

static uint64_t seq_next;      /* next sequence number to publish */
static uint64_t start_seq = UINT64_MAX; /* first measured message; earlier ones are probes */
static uint64_t delivered;     /* deliveries of messages >= start_seq */
static uint64_t window_delivered, window_bytes;
static int measuring;
static uint32_t *hist;
static uint64_t hist_n;
static int seen_probes;
static uint64_t mismatches, protocol_errors, unexpected_closes, connect_errors, handshake_errors;
static uint64_t last_progress;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double cpu_self(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* CPU seconds (user + system) of the given processes, from /proc. */
static double cpu_pids(void) {
    double total = 0;
    long hz = sysconf(_SC_CLK_TCK);
    for (int i = 0; i < npids; i++) {
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", pids[i]);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        char *p = strrchr(buf, ')');
        if (!p) continue;
        unsigned long utime = 0, stime = 0;
        /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
        if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) == 2) total += (double)(utime + stime) / hz;
    }
    return total;
}

static void want_output(struct conn *c, int on) {
    if (c->want_out == on || c->state == DEAD) return;
    c->want_out = on;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void kill_conn(struct conn *c) {
    if (c->state == DEAD) return;
    c->state = DEAD;
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
}

static void flush_out(struct conn *c) {
    while (c->out_len > 0) {
        ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            unexpected_closes++;
            kill_conn(c);
            return;
        }
        memmove(c->out, c->out + n, c->out_len - (size_t)n);
        c->out_len -= (size_t)n;
    }
    want_output(c, c->out_len > 0);
}

static void queue_out(struct conn *c, const unsigned char *data, size_t len) {
    if (c->out_len + len > c->out_cap) {
        c->out_cap = (c->out_len + len) * 2;
        c->out = realloc(c->out, c->out_cap);
        if (!c->out) { perror("realloc"); exit(2); }
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
}

/* A masked client frame (RFC 6455 §5.3: every client frame is masked). */
static void send_frame(struct conn *c, int opcode, const unsigned char *payload, size_t len) {
    unsigned char frame[14 + 65536];
    static const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t h = 0;
    frame[h++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        frame[h++] = (unsigned char)(0x80 | len);
    } else {
        frame[h++] = 0x80 | 126;
        frame[h++] = (unsigned char)(len >> 8);
        frame[h++] = (unsigned char)len;
    }
    memcpy(frame + h, key, 4);
    h += 4;
    for (size_t i = 0; i < len; i++) frame[h + i] = payload[i] ^ key[i & 3];
    queue_out(c, frame, h + len);
}

static void publish(void) {
    unsigned char payload[65536];
    uint64_t t = now_ns();
    memcpy(payload, &t, 8);
    memcpy(payload + 8, &seq_next, 8);
    memset(payload + 16, 'a', size - 16);
    seq_next++;
    send_frame(&conns[nconns - 1], 2, payload, size);
}

static void on_delivery(struct conn *c) {
    /* A frame of another size is an error, but still counts for flow control when it has a sequence number. */
    if (c->frame_len != size) mismatches++;
    if (c->cap_len < 16) {
        if (c->frame_len == size) mismatches++;
        return;
    }
    uint64_t t, seq;
    memcpy(&t, c->cap, 8);
    memcpy(&seq, c->cap + 8, 8);
    if (!c->seen_probe) {
        c->seen_probe = 1;
        seen_probes++;
    }
    if (seq < start_seq) return;
    delivered++;
    last_progress = now_ns();
    if (measuring) {
        window_delivered++;
        window_bytes += size;
        uint64_t us = (last_progress - t) / 1000;
        hist[us < HIST_US ? us : HIST_US]++;
        hist_n++;
    }
}

static void finish_frame(struct conn *c) {
    c->in_payload = 0;
    switch (c->opcode) {
    case 1:
    case 2:
        if (!c->is_pub) on_delivery(c);
        break;
    case 9: /* ping: answer with a pong carrying its payload */
        send_frame(c, 10, c->cap, c->cap_len);
        flush_out(c);
        break;
    case 10:
        break;
    case 8:
        unexpected_closes++;
        kill_conn(c);
        break;
    default:
        protocol_errors++;
        kill_conn(c);
    }
}

static void consume(struct conn *c, const unsigned char *p, size_t len) {
    while (len > 0 && c->state == OPEN) {
        if (!c->in_payload) {
            size_t need = 2;
            while (c->hdr_len < need && len > 0) {
                c->hdr[c->hdr_len++] = *p++;
                len--;
                if (c->hdr_len == 2) {
                    int len7 = c->hdr[1] & 0x7f;
                    need = len7 == 126 ? 4 : len7 == 127 ? 10 : 2;
                }
            }
            if (c->hdr_len >= 2) {
                int len7 = c->hdr[1] & 0x7f;
                need = len7 == 126 ? 4 : len7 == 127 ? 10 : 2;
            }
            if (c->hdr_len < need) return;
            /* Server frames are never masked and, here, never fragmented (RFC 6455 §5.1, §5.4). */
            if ((c->hdr[1] & 0x80) || !(c->hdr[0] & 0x80)) {
                protocol_errors++;
                kill_conn(c);
                return;
            }
            int len7 = c->hdr[1] & 0x7f;
            uint64_t n = (uint64_t)len7;
            if (len7 == 126) n = ((uint64_t)c->hdr[2] << 8) | c->hdr[3];
            if (len7 == 127) {
                n = 0;
                for (int i = 2; i < 10; i++) n = (n << 8) | c->hdr[i];
            }
            c->opcode = c->hdr[0] & 0x0f;
            c->frame_len = c->left = n;
            c->cap_len = 0;
            c->hdr_len = 0;
            c->in_payload = 1;
            if (n == 0) finish_frame(c);
            continue;
        }
        size_t take = c->left < len ? (size_t)c->left : len;
        if (c->cap_len < sizeof c->cap) {
            size_t keep = sizeof c->cap - c->cap_len;
            if (keep > take) keep = take;
            memcpy(c->cap + c->cap_len, p, keep);
            c->cap_len += keep;
        }
        p += take;
        len -= take;
        c->left -= take;
        if (c->left == 0) finish_frame(c);
    }
}

static void on_handshake(struct conn *c, const unsigned char *p, size_t len) {
    size_t room = HEAD_MAX - c->head_len;
    size_t take = len < room ? len : room;
    memcpy(c->head + c->head_len, p, take);
    c->head_len += take;
    char *end = memmem(c->head, c->head_len, "\r\n\r\n", 4);
    if (!end) {
        if (c->head_len == HEAD_MAX) {
            handshake_errors++;
            kill_conn(c);
        }
        return;
    }
    if (strncmp(c->head, "HTTP/1.1 101", 12) != 0) {
        handshake_errors++;
        kill_conn(c);
        return;
    }
    size_t used = (size_t)(end + 4 - c->head);
    c->state = OPEN;
    /* Bytes after the head in this read are frames already. */
    size_t rest_in_head = c->head_len - used;
    consume(c, (unsigned char *)c->head + used, rest_in_head);
    if (take < len) consume(c, p + take, len - take);
}

static void on_readable(struct conn *c) {
    static unsigned char buf[READ_SIZE];
    for (int i = 0; i < 16 && c->state != DEAD; i++) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            unexpected_closes++;
            kill_conn(c);
            return;
        }
        if (n == 0) {
            unexpected_closes++;
            kill_conn(c);
            return;
        }
        if (c->state == HANDSHAKE) on_handshake(c, buf, (size_t)n);
        else consume(c, buf, (size_t)n);
        if ((size_t)n < sizeof buf) return;
    }
}

static int open_conn(struct conn *c, int port, const char *path, int is_pub) {
    memset(c, 0, sizeof *c);
    c->is_pub = is_pub;
    c->state = DEAD;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0) return -1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* A blocking connect, one at a time: 1,000 loopback connects take tens of milliseconds. */
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(c->fd);
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     path, port);
    if (send(c->fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(c->fd);
        return -1;
    }
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    c->state = HANDSHAKE;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
    return 0;
}

/* One pass of the event loop: up to `timeout_ms` waiting. */
static void poll_once(int timeout_ms) {
    struct epoll_event events[256];
    int n = epoll_wait(epfd, events, 256, timeout_ms);
    for (int i = 0; i < n; i++) {
        struct conn *c = events[i].data.ptr;
        if (c->state == DEAD) continue;
        if (events[i].events & EPOLLOUT) flush_out(c);
        if (c->state != DEAD && (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) on_readable(c);
    }
}

static int count_state(enum state s, int from, int to) {
    int n = 0;
    for (int i = from; i < to; i++) n += conns[i].state == s;
    return n;
}

static double percentile(double q) {
    if (hist_n == 0) return -1;
    uint64_t rank = (uint64_t)(q * (double)hist_n);
    if (rank >= hist_n) rank = hist_n - 1;
    uint64_t seen = 0;
    for (int i = 0; i <= HIST_US; i++) {
        seen += hist[i];
        if (seen > rank) return i;
    }
    return HIST_US;
}

static void report(double secs, double client_cpu, double server_cpu, const char *failure) {
    double msgs = secs > 0 ? (double)window_delivered / secs : 0;
    printf("{\"msgs_per_s\":%.1f,\"mb_per_s_recv\":%.3f,\"lat_us\":{\"p50\":%.1f,\"p99\":%.1f,\"n\":%llu},"
           "\"client_cpu_pct\":%.1f,\"server_cpu_pct\":%.1f,\"subscribers\":%d,\"size\":%zu,\"window\":%d,"
           "\"published\":%llu,\"delivered\":%llu,\"mismatches\":%llu,\"protocol_errors\":%llu,\"unexpected_closes\":%llu,"
           "\"connect_errors\":%llu,\"handshake_errors\":%llu%s%s%s}\n",
           msgs, secs > 0 ? (double)window_bytes / 1e6 / secs : 0, percentile(0.5), percentile(0.99),
           (unsigned long long)hist_n, secs > 0 ? client_cpu / secs * 100 : 0, secs > 0 ? server_cpu / secs * 100 : 0,
           subscribers, size, window, (unsigned long long)(seq_next - (start_seq == UINT64_MAX ? seq_next : start_seq)),
           (unsigned long long)delivered, (unsigned long long)mismatches, (unsigned long long)protocol_errors, (unsigned long long)unexpected_closes,
           (unsigned long long)connect_errors, (unsigned long long)handshake_errors, failure ? ",\"failure\":\"" : "",
           failure ? failure : "", failure ? "\"" : "");
    fflush(stdout);
}

static void fail(const char *why) {
    fprintf(stderr, "fanout-loadgen: %s\n", why);
    if (connect_errors + handshake_errors + protocol_errors + unexpected_closes == 0) protocol_errors = 1;
    report(0, 0, 0, why);
    exit(1);
}

static void usage(void) {
    fprintf(stderr, "usage: fanout-loadgen --port P [--port2 Q] [-c N] [-s BYTES] [-d S] [-w S] [-W WINDOW] [--latency] [--pids A,B]\n");
    exit(2);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--latency")) { window = 1; continue; }
        if (!v) usage();
        if (!strcmp(a, "--port")) ports[0] = atoi(v);
        else if (!strcmp(a, "--port2")) { ports[1] = atoi(v); nports = 2; }
        else if (!strcmp(a, "-c")) subscribers = atoi(v);
        else if (!strcmp(a, "-s")) size = (size_t)atol(v);
        else if (!strcmp(a, "-d")) seconds = atof(v);
        else if (!strcmp(a, "-w")) warmup = atof(v);
        else if (!strcmp(a, "-W")) window = atoi(v);
        else if (!strcmp(a, "--pids")) {
            char *copy = strdup(v);
            for (char *t = strtok(copy, ","); t && npids < MAX_PIDS; t = strtok(NULL, ",")) pids[npids++] = atoi(t);
            free(copy);
        } else usage();
        i++;
    }
    if (ports[0] <= 0 || subscribers < 1 || size < 16 || size > 65535 || window < 1 || seconds <= 0) usage();
    signal(SIGPIPE, SIG_IGN);
    hist = calloc(HIST_US + 1, sizeof *hist);
    epfd = epoll_create1(0);
    nconns = subscribers + 1;
    conns = calloc((size_t)nconns, sizeof *conns);
    if (!hist || !conns || epfd < 0) fail("out of memory");

    for (int i = 0; i < subscribers; i++) {
        if (open_conn(&conns[i], ports[nports == 2 ? i % 2 : 0], "/sub", 0) != 0) connect_errors++;
        /* Read 101s as they come, so the server's accept queue and our buffers stay small. */
        if (i % 64 == 63) poll_once(0);
    }
    if (open_conn(&conns[nconns - 1], ports[0], "/pub", 1) != 0) connect_errors++;
    if (connect_errors) fail("connect failed");
    uint64_t deadline = now_ns() + 15ull * 1000000000ull;
    while (count_state(HANDSHAKE, 0, nconns) > 0) {
        if (now_ns() > deadline) fail("handshakes did not complete");
        poll_once(5);
    }
    if (count_state(OPEN, 0, nconns) != nconns) fail("a handshake failed");

    /* Probes until every subscriber has got one: every subscription, local or through Redis, is in place. */
    struct conn *pub = &conns[nconns - 1];
    deadline = now_ns() + 15ull * 1000000000ull;
    uint64_t next_probe = 0;
    while (seen_probes < subscribers) {
        uint64_t t = now_ns();
        if (t > deadline) fail("not every subscriber got a probe");
        if (t >= next_probe) {
            publish();
            flush_out(pub);
            next_probe = t + 20ull * 1000000ull;
        }
        poll_once(2);
        if (count_state(OPEN, 0, nconns) != nconns) fail("a connection closed during the probes");
    }
    /* Let the last probes drain, then measure from the next sequence number on. */
    for (uint64_t until = now_ns() + 200ull * 1000000ull; now_ns() < until;) poll_once(5);
    start_seq = seq_next;

    uint64_t t0 = now_ns();
    uint64_t window_start = t0 + (uint64_t)(warmup * 1e9);
    uint64_t window_end = window_start + (uint64_t)(seconds * 1e9);
    double client_cpu0 = 0, server_cpu0 = 0;
    last_progress = t0;
    for (;;) {
        /*
         * In flight: messages not yet delivered `subscribers` times in total. Once half the window is
         * free, top it up in one burst (one write): a steady trickle of single messages would make
         * every server pay its per-message costs on each one alone.
         */
        uint64_t due = (seq_next - start_seq) * (uint64_t)subscribers - delivered;
        uint64_t free_slots = (uint64_t)window - (due + (uint64_t)subscribers - 1) / (uint64_t)subscribers;
        if (free_slots >= (uint64_t)(window > 1 ? window / 2 : 1)) {
            for (uint64_t i = 0; i < free_slots; i++) publish();
            flush_out(pub);
        }
        poll_once(1);
        uint64_t t = now_ns();
        if (!measuring && t >= window_start) {
            measuring = 1;
            client_cpu0 = cpu_self();
            server_cpu0 = cpu_pids();
        }
        if (t >= window_end) break;
        if (t - last_progress > STALL_NS) fail("no delivery for 5 s");
        if (pub->state == DEAD || count_state(DEAD, 0, subscribers) > 0) fail("a connection closed during the run");
    }
    double secs = (double)(now_ns() - window_start) / 1e9;
    double client_cpu = cpu_self() - client_cpu0;
    double server_cpu = cpu_pids() - server_cpu0;
    measuring = 0;
    report(secs, client_cpu, server_cpu, NULL);
    return 0;
}
