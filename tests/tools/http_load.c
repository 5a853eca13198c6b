/* A small HTTP/1.1 load client for the black-box tests: sends N requests
 * over one keep-alive connection (reconnecting when the server closes it)
 * and prints how many answers of each status class came back.
 *
 * usage: http_load PORT N MODE
 *   MODE random-paths: GET /<random>/<random> (every 16th uses method BREW)
 *   MODE health:       GET /health
 * Talks to 127.0.0.1 only. Exits 1 if any request got no answer. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Reads one response; returns its status, or -1. Sets *closing. */
static int read_response(int fd, char *buf, size_t cap, int *closing)
{
    size_t len = 0;
    char *end = NULL;
    while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
        if (len == cap) return -1;
        ssize_t n = read(fd, buf + len, cap - len);
        if (n <= 0) return -1;
        len += (size_t)n;
    }
    size_t hdr = (size_t)(end - buf) + 4;
    int status = atoi(buf + 9);
    long clen = 0;
    *closing = 0;
    for (char *p = buf; p < end; p = strstr(p, "\r\n") + 2) {
        if (strncasecmp(p, "Content-Length:", 15) == 0) clen = atol(p + 15);
        if (strncasecmp(p, "Connection: close", 17) == 0) *closing = 1;
    }
    size_t have = len - hdr;
    while ((long)have < clen) {
        ssize_t n = read(fd, buf, cap);
        if (n <= 0) return -1;
        have += (size_t)n;
    }
    return status;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: http_load PORT N random-paths|health\n");
        return 2;
    }
    int port = atoi(argv[1]);
    long n = atol(argv[2]);
    int random_paths = strcmp(argv[3], "random-paths") == 0;
    static char buf[1 << 16];
    long classes[6] = {0}, lost = 0, reconnects = 0;
    unsigned seed = 12345;
    int fd = -1;
    for (long i = 0; i < n; i++) {
        if (fd < 0) {
            fd = connect_to(port);
            reconnects++;
            if (fd < 0) {
                lost++;
                continue;
            }
        }
        char req[256];
        int k;
        if (random_paths)
            k = snprintf(req, sizeof req, "%s /%08x/%u HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                         i % 16 == 15 ? "BREW" : "GET", rand_r(&seed), (unsigned)i);
        else
            k = snprintf(req, sizeof req, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        int closing = 1, status = -1;
        if (write(fd, req, (size_t)k) == k) status = read_response(fd, buf, sizeof buf, &closing);
        if (status < 100 || status > 599) {
            lost++;
        } else {
            classes[status / 100]++;
        }
        if (closing || status < 0) {
            close(fd);
            fd = -1;
        }
    }
    if (fd >= 0) close(fd);
    printf("sent=%ld 2xx=%ld 4xx=%ld 5xx=%ld lost=%ld connections=%ld\n", n, classes[2], classes[4],
           classes[5], lost, reconnects);
    return lost ? 1 : 0;
}
