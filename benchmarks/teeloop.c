/* An experiment beside copyloop.c (not part of suite "big"): could a wrapper reach the pipe
   row's 1.5x by not copying the echo through user space?  Mode 0 passes stdin on to stdout
   with tee(2) (pipe to pipe, no copy), then reads the same bytes once for the log file, as
   a wrapper must to parse them; mode 1 is the plain read and two writes, with both pipes
   widened to 1 MiB as wbrun widens them.  Usage: teeloop FILE MODE (stdout must be a pipe
   for mode 0).  Run by hand (docs/benchmarks.md, fifteenth session):
     cc -O2 -o teeloop benchmarks/teeloop.c
     yes | head -c 500000000 | ./teeloop out.$$ 0 | cat > /dev/null */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static int write_all(int fd, const char *buf, ssize_t len) {
    while (len > 0) { ssize_t n = write(fd, buf, (size_t)len); if (n < 0) return -1; buf += n; len -= n; }
    return 0;
}
int main(int argc, char **argv) {
    enum { CHUNK = 1 << 20 };
    if (argc != 3) { fprintf(stderr, "usage: teeloop FILE 0|1\n"); return 2; }
    int file = open(argv[1], O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (file < 0) { perror("teeloop"); return 1; }
    int mode = argc > 2 ? atoi(argv[2]) : 0;  /* 0 tee, 1 plain read/write widened */
    fcntl(0, F_SETPIPE_SZ, CHUNK); fcntl(1, F_SETPIPE_SZ, CHUNK);
    char *buf = malloc(CHUNK);
    for (;;) {
        ssize_t n;
        if (mode == 0) {
            n = tee(0, 1, CHUNK, 0);
            if (n == 0) return 0;
            if (n < 0) { perror("tee"); return 1; }
            ssize_t got = 0;
            while (got < n) { ssize_t r = read(0, buf + got, n - got); if (r <= 0) { perror("read"); return 1; } got += r; }
        } else {
            n = read(0, buf, CHUNK);
            if (n == 0) return 0;
            if (write_all(1, buf, n) < 0) return 1;
        }
        if (write_all(file, buf, n) < 0) return 1;
    }
}
