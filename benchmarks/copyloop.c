/* The copies a wrapper that keeps the output must make, and nothing else: read stdin in
   1 MiB chunks and write each to stdout and to the file named by argv[1], a new one (as
   each wrapped run's output.log is new).  With a second argument WINDOW (bytes), also give
   the page-cache advice wbrun gives output.log (jsonio.AppendFile): POSIX_FADV_DONTNEED
   for the whole file after each WINDOW bytes appended.  Suite "big" times a pipeline
   through it beside the wrapped one, as the floor under the pipe rows. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int write_all(int fd, const char *buf, ssize_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, (size_t)len);
        if (n < 0) return -1;
        buf += n;
        len -= n;
    }
    return 0;
}

int main(int argc, char **argv) {
    enum { CHUNK = 1 << 20 };
    if (argc != 2 && argc != 3) { fprintf(stderr, "usage: copyloop FILE [WINDOW]\n"); return 2; }
    long long window = argc == 3 ? atoll(argv[2]) : 0, since = 0;
    int file = open(argv[1], O_WRONLY | O_CREAT | O_EXCL, 0644);
    char *buf = malloc(CHUNK);
    if (file < 0 || buf == NULL) { perror("copyloop"); return 1; }
    for (;;) {
        ssize_t n = read(0, buf, CHUNK);
        if (n == 0) return close(file) == 0 ? 0 : 1;
        if (n < 0 || write_all(1, buf, n) < 0 || write_all(file, buf, n) < 0) {
            perror("copyloop");
            return 1;
        }
        since += n;
        if (window > 0 && since >= window) {
            since = 0;
            posix_fadvise(file, 0, 0, POSIX_FADV_DONTNEED);
        }
    }
}
