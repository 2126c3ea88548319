/*
 * A fault injector for the storage tests, loaded with LD_PRELOAD into
 * pyzord. While the file named by $PYZOR_FAULT_CTL exists, its first
 * word picks the fault:
 *
 *   eio    fsync and fdatasync fail with EIO (a disk that loses writes);
 *   erofs  every write to a regular file, and every open of one for
 *          writing, fails with EROFS (a file system remounted read-only);
 *   stall  fsync and fdatasync wait until the fault is switched off, then
 *          sync (a disk that hangs: a failing device, a stuck network
 *          file system, a flood of writeback).
 *
 * Without the file (or the variable) every call goes to libc unchanged.
 * Built by bin/tests/storage_faults.rs with `cc -shared -fPIC`.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum fault { NONE, EIO_SYNC, ROFS, STALL };

static enum fault current(void) {
    const char *ctl = getenv("PYZOR_FAULT_CTL");
    if (ctl == NULL) {
        return NONE;
    }
    static int (*real_open)(const char *, int, ...);
    static ssize_t (*real_read)(int, void *, size_t);
    static int (*real_close)(int);
    if (!real_open) {
        real_open = dlsym(RTLD_NEXT, "open");
        real_read = dlsym(RTLD_NEXT, "read");
        real_close = dlsym(RTLD_NEXT, "close");
    }
    int saved = errno;
    int fd = real_open(ctl, O_RDONLY | O_CLOEXEC);
    enum fault f = NONE;
    if (fd >= 0) {
        char word[16] = {0};
        ssize_t n = real_read(fd, word, sizeof word - 1);
        real_close(fd);
        if (n > 0 && strncmp(word, "eio", 3) == 0) {
            f = EIO_SYNC;
        } else if (n > 0 && strncmp(word, "erofs", 5) == 0) {
            f = ROFS;
        } else if (n > 0 && strncmp(word, "stall", 5) == 0) {
            f = STALL;
        }
    }
    errno = saved;
    return f;
}

static int regular(int fd) {
    struct stat st;
    int saved = errno;
    int r = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    errno = saved;
    return r;
}

#define REAL(ret, name, ...)                                                   \
    static ret (*real)(__VA_ARGS__);                                           \
    if (!real) {                                                               \
        real = dlsym(RTLD_NEXT, name);                                         \
    }

/* Applies the fault of a sync: EIO, or waiting while the disk stalls. */
static int sync_fault(void) {
    enum fault f;
    while ((f = current()) == STALL) {
        usleep(5000);
    }
    if (f == EIO_SYNC) {
        errno = EIO;
        return -1;
    }
    return 0;
}

int fsync(int fd) {
    REAL(int, "fsync", int);
    if (sync_fault() != 0) {
        return -1;
    }
    return real(fd);
}

int fdatasync(int fd) {
    REAL(int, "fdatasync", int);
    if (sync_fault() != 0) {
        return -1;
    }
    return real(fd);
}

ssize_t write(int fd, const void *buf, size_t n) {
    REAL(ssize_t, "write", int, const void *, size_t);
    if (current() == ROFS && regular(fd)) {
        errno = EROFS;
        return -1;
    }
    return real(fd, buf, n);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
    REAL(ssize_t, "pwrite64", int, const void *, size_t, off_t);
    if (current() == ROFS && regular(fd)) {
        errno = EROFS;
        return -1;
    }
    return real(fd, buf, n, off);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    return pwrite64(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt) {
    REAL(ssize_t, "writev", int, const struct iovec *, int);
    if (current() == ROFS && regular(fd)) {
        errno = EROFS;
        return -1;
    }
    return real(fd, iov, cnt);
}

static int opens_for_writing(int flags) {
    return (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) != 0;
}

int open64(const char *path, int flags, ...) {
    REAL(int, "open64", const char *, int, ...);
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    if (opens_for_writing(flags) && current() == ROFS) {
        errno = EROFS;
        return -1;
    }
    return real(path, flags, mode);
}

int open(const char *path, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    return open64(path, flags, mode);
}

int openat64(int dir, const char *path, int flags, ...) {
    REAL(int, "openat64", int, const char *, int, ...);
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    if (opens_for_writing(flags) && current() == ROFS) {
        errno = EROFS;
        return -1;
    }
    return real(dir, path, flags, mode);
}

int openat(int dir, const char *path, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    return openat64(dir, path, flags, mode);
}
