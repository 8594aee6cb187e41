/*
 * A small, fast WebSocket echo server for the client benchmark (apps/bench). The Node echo servers
 * saturate their core long before a single client connection does, so the client figures were
 * capped by the server; this one spends far less CPU per message, so the client is the limit.
 *
 *   echo-server [port]      port 0 (the default): the OS picks one
 *
 * Once listening it prints one JSON line, {"ready":true,"port":N,"pid":P,"impl":"c"}, like the Node
 * servers in src/servers/. Single-threaded, epoll (level-triggered), non-blocking sockets.
 *
 * It echoes frame by frame rather than message by message: each client frame goes back unmasked
 * with the same opcode and FIN bit, and its payload is streamed through (unmasked straight into the
 * output buffer as it arrives), so a frame is never buffered whole and fragmentation is preserved,
 * which is valid. Ping gets a pong with the same payload, pong is dropped, close is echoed and then
 * the connection is shut down. No extensions, no subprotocols, and text is not checked for valid
 * UTF-8 (the client checks what it gets back anyway). Protocol errors get a close frame (1002, or
 * 1009 for a payload over 64 MiB) and the connection is shut down.
 *
 * cc -O2 -Wall -Wextra -o echo-server echo-server.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX (8 * 1024)            /* largest HTTP request head accepted */
#define READ_SIZE (256 * 1024)         /* one recv() into the shared read buffer */
#define CARRY_MAX 14                   /* longest frame header: 2 + 8 (length) + 4 (mask) */
#define MAX_PAYLOAD (64ull * 1024 * 1024)
#define OUT_HIGH (4 * 1024 * 1024)     /* stop reading while this much output is pending... */
#define OUT_LOW (1 * 1024 * 1024)      /* ...and resume once it is down to this */
#define OUT_KEEP (1 * 1024 * 1024)     /* a drained output buffer larger than this is freed */
#define READS_PER_EVENT 16             /* so one busy connection cannot starve the others */

enum state { HANDSHAKE, OPEN, CLOSING };

struct conn {
    int fd;
    enum state state;
    uint32_t events;       /* what epoll watches for now */
    int paused;            /* reading stopped: too much output pending */
    int peer_eof;          /* the peer closed its side: finish writing, then close */
    int shut;              /* our side is shut down (after the final frame); wait for EOF */

    char *head;            /* the request head while in HANDSHAKE */
    size_t head_len;

    unsigned char carry[CARRY_MAX]; /* an incomplete frame header left from the last read */
    size_t carry_len;

    /* The frame whose payload is streaming through. */
    uint64_t left;         /* payload bytes still to come */
    uint64_t offset;       /* payload bytes seen: the mask's phase */
    unsigned char mask[4];
    int opcode;
    int discard;           /* drop the payload (pong) instead of echoing it */
    int in_message;        /* inside a fragmented data message: only continuations may follow */

    unsigned char *out;    /* pending output: out[out_start..out_end) */
    size_t out_start, out_end, out_cap;
};

static int epfd;
static unsigned char rbuf[CARRY_MAX + READ_SIZE];

/* ---- SHA-1 (FIPS 180-4) and base64, just enough for Sec-WebSocket-Accept ---- */

static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1_block(uint32_t h[5], const unsigned char *p) {
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) f = (b & c) | (~b & d), k = 0x5A827999;
        else if (i < 40) f = b ^ c ^ d, k = 0x6ED9EBA1;
        else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
        else f = b ^ c ^ d, k = 0xCA62C1D6;
        uint32_t t = rol(a, 5) + f + e + k + w[i];
        e = d, d = c, c = rol(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

static void sha1(const unsigned char *data, size_t len, unsigned char digest[20]) {
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    size_t i = 0;
    for (; len - i >= 64; i += 64) sha1_block(h, data + i);
    /* Padding: 0x80, zeros, then the length in bits (big-endian), over one or two blocks. */
    unsigned char tail[128] = {0};
    size_t rest = len - i;
    memcpy(tail, data + i, rest);
    tail[rest] = 0x80;
    size_t tail_len = rest < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int j = 0; j < 8; j++) tail[tail_len - 1 - j] = (unsigned char)(bits >> (8 * j));
    for (size_t j = 0; j < tail_len; j += 64) sha1_block(h, tail + j);
    for (int j = 0; j < 5; j++)
        for (int b = 0; b < 4; b++) digest[4 * j + b] = (unsigned char)(h[j] >> (24 - 8 * b));
}

/* Writes the base64 of data[0..len) and a NUL to out (4 * ceil(len / 3) + 1 bytes). */
static void base64(const unsigned char *data, size_t len, char *out) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        *out++ = abc[v >> 18], *out++ = abc[(v >> 12) & 63], *out++ = abc[(v >> 6) & 63], *out++ = abc[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)data[i] << 16;
        *out++ = abc[v >> 18], *out++ = abc[(v >> 12) & 63], *out++ = '=', *out++ = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8;
        *out++ = abc[v >> 18], *out++ = abc[(v >> 12) & 63], *out++ = abc[(v >> 6) & 63], *out++ = '=';
    }
    *out = '\0';
}

/* ---- connections ---- */

static void destroy(struct conn *c) {
    close(c->fd); /* also removes it from the epoll set */
    free(c->head);
    free(c->out);
    free(c);
}

static size_t pending(const struct conn *c) { return c->out_end - c->out_start; }

/* Room for n more bytes at out + out_end; 0 when memory ran out. */
static int reserve(struct conn *c, size_t n) {
    if (c->out_cap - c->out_end >= n) return 1;
    if (c->out_start > 0) { /* slide the pending bytes to the front first */
        memmove(c->out, c->out + c->out_start, pending(c));
        c->out_end -= c->out_start;
        c->out_start = 0;
        if (c->out_cap - c->out_end >= n) return 1;
    }
    size_t cap = c->out_cap ? c->out_cap : 64 * 1024;
    while (cap - c->out_end < n) cap *= 2;
    unsigned char *p = realloc(c->out, cap);
    if (!p) return 0;
    c->out = p;
    c->out_cap = cap;
    return 1;
}

static int append(struct conn *c, const void *data, size_t n) {
    if (!reserve(c, n)) return 0;
    memcpy(c->out + c->out_end, data, n);
    c->out_end += n;
    return 1;
}

/* Appends an unmasked frame header: FIN bit and opcode in b0, the shortest length encoding. */
static int append_header(struct conn *c, int b0, uint64_t len) {
    unsigned char h[10];
    size_t n;
    h[0] = (unsigned char)b0;
    if (len < 126) {
        h[1] = (unsigned char)len, n = 2;
    } else if (len < 65536) {
        h[1] = 126, h[2] = (unsigned char)(len >> 8), h[3] = (unsigned char)len, n = 4;
    } else {
        h[1] = 127, n = 10;
        for (int i = 0; i < 8; i++) h[2 + i] = (unsigned char)(len >> (56 - 8 * i));
    }
    return append(c, h, n);
}

/* Queues a close frame with `code` and stops handling input: protocol errors and the like. */
static int fail(struct conn *c, int code) {
    unsigned char f[4] = {0x88, 2, (unsigned char)(code >> 8), (unsigned char)code};
    c->state = CLOSING;
    return append(c, f, sizeof f);
}

/*
 * dst[i] = src[i] ^ mask[(offset + i) % 4]. Eight bytes at a time with the mask rotated to the
 * payload's phase; memcpy keeps the loads and stores legal at any alignment and compiles to plain
 * moves. A byte array XOR is endian-neutral as long as the mask word is built the same way.
 */
static void unmask(unsigned char *dst, const unsigned char *src, size_t n, const unsigned char mask[4], uint64_t offset) {
    unsigned char m[8];
    for (int i = 0; i < 8; i++) m[i] = mask[(offset + i) & 3];
    uint64_t word;
    memcpy(&word, m, 8);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, src + i, 8);
        v ^= word;
        memcpy(dst + i, &v, 8);
    }
    for (; i < n; i++) dst[i] = src[i] ^ m[i & 7];
}

/* The frame's payload is all through: an echoed close ends the connection. */
static void frame_done(struct conn *c) {
    if (c->opcode == 8) c->state = CLOSING;
}

/*
 * Parses frames in buf[0..len): echoes headers, streams payloads, keeps an incomplete header in
 * carry for the next read. Returns 0 when memory ran out (the caller drops the connection).
 */
static int process(struct conn *c, const unsigned char *buf, size_t len) {
    size_t pos = 0;
    c->carry_len = 0;
    while (pos < len && c->state == OPEN) {
        if (c->left > 0) {
            size_t take = len - pos < c->left ? len - pos : (size_t)c->left;
            if (!c->discard) {
                if (!reserve(c, take)) return 0;
                unmask(c->out + c->out_end, buf + pos, take, c->mask, c->offset);
                c->out_end += take;
            }
            c->offset += take;
            c->left -= take;
            pos += take;
            if (c->left == 0) frame_done(c);
            continue;
        }

        /* A new frame header. The first two bytes are checked at once (an unmasked frame may never
         * send the four bytes its mask would take), the rest once all of it is here. */
        size_t avail = len - pos;
        if (avail < 2) break;
        const unsigned char *h = buf + pos;
        int fin = h[0] & 0x80, opcode = h[0] & 0x0f, len7 = h[1] & 0x7f, control = opcode & 8;
        if ((h[0] & 0x70) || !(h[1] & 0x80)) return fail(c, 1002); /* RSV bits (no extensions), mask required */
        if (control ? (opcode > 10 || !fin || len7 > 125 || (opcode == 8 && len7 == 1)) : opcode > 2)
            return fail(c, 1002);
        if (!control && (opcode == 0) != c->in_message) /* no message inside a fragmented one, no stray continuation */
            return fail(c, 1002);
        size_t hlen = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
        if (avail < hlen) break;

        uint64_t plen = (uint64_t)len7;
        if (len7 == 126) plen = (uint64_t)h[2] << 8 | h[3];
        if (len7 == 127) {
            plen = 0;
            for (int i = 0; i < 8; i++) plen = plen << 8 | h[2 + i];
        }
        if (plen > MAX_PAYLOAD) return fail(c, 1009);
        if (!control) c->in_message = !fin;

        c->opcode = opcode;
        c->discard = opcode == 10;
        c->left = plen;
        c->offset = 0;
        memcpy(c->mask, h + hlen - 4, 4);
        pos += hlen;
        if (!c->discard && !append_header(c, (h[0] & 0x80) | (opcode == 9 ? 10 : opcode), plen)) return 0;
        if (plen == 0) frame_done(c);
    }
    if (c->state == OPEN && pos < len) { /* only ever a partial header, at most 13 bytes */
        c->carry_len = len - pos;
        memcpy(c->carry, buf + pos, c->carry_len);
    }
    return 1;
}

/* Refuses the handshake with an HTTP status and shuts the connection down once that is written. */
static int refuse(struct conn *c, const char *status) {
    char reply[128];
    int n = snprintf(reply, sizeof reply, "HTTP/1.1 %s\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", status);
    c->state = CLOSING;
    return append(c, reply, (size_t)n);
}

/*
 * The request head is complete (head[0..end) ends with CRLF CRLF): find Sec-WebSocket-Key and
 * reply 101, or refuse. Returns 0 when memory ran out.
 */
static int handshake(struct conn *c, size_t end) {
    const char *key = NULL;
    size_t key_len = 0;
    char *line = c->head, *stop = c->head + end;
    if (strncmp(line, "GET ", 4) != 0) return refuse(c, "405 Method Not Allowed");
    while (line < stop) {
        char *eol = memmem(line, (size_t)(stop - line), "\r\n", 2);
        if (!eol) break;
        char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon && colon - line == 17 && strncasecmp(line, "sec-websocket-key", 17) == 0) {
            const char *v = colon + 1, *e = eol;
            while (v < e && (*v == ' ' || *v == '\t')) v++;
            while (e > v && (e[-1] == ' ' || e[-1] == '\t')) e--;
            key = v, key_len = (size_t)(e - v);
        }
        line = eol + 2;
    }
    if (!key || key_len != 24) return refuse(c, "400 Bad Request"); /* base64 of 16 bytes */

    unsigned char input[24 + 36], digest[20];
    char accept[29];
    memcpy(input, key, 24);
    memcpy(input + 24, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", 36);
    sha1(input, sizeof input, digest);
    base64(digest, sizeof digest, accept);
    char reply[160];
    int n = snprintf(reply, sizeof reply,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    c->state = OPEN;
    return append(c, reply, (size_t)n);
}

/*
 * Reads the request head into c->head. Bytes after it (a client may send frames right behind the
 * request) go through process() like any later read. 0 when the connection must be dropped.
 */
static int read_head(struct conn *c) {
    ssize_t n = recv(c->fd, c->head + c->head_len, HEAD_MAX - c->head_len, 0);
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    if (n == 0) {
        c->peer_eof = 1;
        return 1;
    }
    /* Search only where the terminator can newly appear: it may straddle the previous read. */
    size_t from = c->head_len > 3 ? c->head_len - 3 : 0;
    c->head_len += (size_t)n;
    char *term = memmem(c->head + from, c->head_len - from, "\r\n\r\n", 4);
    if (!term) {
        if (c->head_len < HEAD_MAX) return 1; /* wait for more */
        return refuse(c, "431 Request Header Fields Too Large");
    }
    size_t end = (size_t)(term + 4 - c->head);
    if (!handshake(c, end)) return 0;
    int ok = 1;
    if (c->state == OPEN && end < c->head_len) {
        memcpy(rbuf, c->head + end, c->head_len - end);
        ok = process(c, rbuf, c->head_len - end);
    }
    free(c->head);
    c->head = NULL;
    return ok;
}

/* Brings the epoll interest in line with the connection's state. 0 on failure. */
static int watch(struct conn *c) {
    size_t p = pending(c);
    if (p >= OUT_HIGH) c->paused = 1;
    else if (p <= OUT_LOW) c->paused = 0;
    uint32_t want = (c->peer_eof || c->paused ? 0 : EPOLLIN) | (p ? EPOLLOUT : 0);
    if (want == c->events) return 1;
    struct epoll_event ev = {.events = want, .data.ptr = c};
    c->events = want;
    return epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0;
}

/* Writes as much pending output as the socket takes, then updates what to wait for. 0: dropped. */
static int flush(struct conn *c) {
    while (pending(c) > 0) {
        ssize_t n = send(c->fd, c->out + c->out_start, pending(c), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            destroy(c);
            return 0;
        }
        c->out_start += (size_t)n;
    }
    if (pending(c) == 0) {
        c->out_start = c->out_end = 0;
        if (c->out_cap > OUT_KEEP) { /* a burst of large frames is over: give the memory back */
            free(c->out);
            c->out = NULL;
            c->out_cap = 0;
        }
        if (c->peer_eof) {
            destroy(c);
            return 0;
        }
        /* The final frame (or HTTP refusal) is out: send FIN, then wait for the peer's EOF rather
         * than closing at once, which would reset the connection if the peer still sent something. */
        if (c->state == CLOSING && !c->shut) {
            shutdown(c->fd, SHUT_WR);
            c->shut = 1;
        }
    }
    if (!watch(c)) {
        destroy(c);
        return 0;
    }
    return 1;
}

/* Reads (up to READS_PER_EVENT times), processes everything read, then writes once. */
static void on_readable(struct conn *c) {
    for (int i = 0; i < READS_PER_EVENT && !c->peer_eof && !c->paused; i++) {
        if (c->state == HANDSHAKE) {
            if (!read_head(c)) {
                destroy(c);
                return;
            }
            if (c->state == HANDSHAKE) break; /* head still incomplete */
            continue;
        }
        /* Any incomplete header from the last read goes in front of the new bytes. */
        size_t carry = c->carry_len;
        memcpy(rbuf, c->carry, carry);
        ssize_t n = recv(c->fd, rbuf + carry, READ_SIZE, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) break;
            destroy(c);
            return;
        }
        if (n == 0) {
            c->peer_eof = 1;
            break;
        }
        if (c->state == CLOSING) continue; /* after close: read only to notice the EOF */
        if (!process(c, rbuf, carry + (size_t)n)) {
            destroy(c);
            return;
        }
        if ((size_t)n < READ_SIZE || pending(c) >= OUT_HIGH) break; /* drained, or time to write */
    }
    flush(c);
}

static void on_accept(int lfd) {
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN) perror("accept4"); /* e.g. EMFILE: retried on the next event */
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* echoes must not wait for Nagle */
        struct conn *c = calloc(1, sizeof *c);
        char *head = malloc(HEAD_MAX);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (!c || !head || epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            free(c);
            free(head);
            close(fd);
            continue;
        }
        c->fd = fd;
        c->head = head;
        c->events = EPOLLIN;
        c->state = HANDSHAKE;
    }
}

int main(int argc, char **argv) {
    long port = 0;
    if (argc > 1) {
        char *end;
        port = strtol(argv[1], &end, 10);
        if (*argv[1] == '\0' || *end != '\0' || port < 0 || port > 65535) {
            fprintf(stderr, "usage: %s [port]\n", argv[0]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t addr_len = sizeof addr;
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 4096) != 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &addr_len) != 0) {
        perror("listen");
        return 1;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL}; /* NULL marks the listener */
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) != 0) {
        perror("epoll");
        return 1;
    }
    printf("{\"ready\":true,\"port\":%d,\"pid\":%d,\"impl\":\"c\"}\n", ntohs(addr.sin_port), (int)getpid());
    fflush(stdout);

    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(epfd, events, 256, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (!c) {
                on_accept(lfd);
                continue;
            }
            /* Errors and hang-ups surface as a failed or empty recv(), or a failed send(). */
            if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                if (c->events & EPOLLIN) on_readable(c);
                else flush(c);
            } else if (events[i].events & EPOLLOUT) {
                flush(c);
            }
        }
    }
}
