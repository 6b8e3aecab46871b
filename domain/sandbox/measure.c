/* measure: PID 1 of the sandbox. Runs the program as its child and reports the child's own
 * resource usage (wait4), which the worker cannot measure from outside: a forked worker's
 * peak RSS survives exec and would hide the program's.
 *   usage: measure REPORT_FD GO_FD PROGRAM [ARGS...]
 * If GO_FD is not -1, it first waits for one byte on GO_FD (the worker prepares the sandbox of
 * the next test case while the current one runs, and says "go" when it is that case's turn;
 * end-of-file instead means "not needed": exit 126 without running anything).
 * Writes "status utime_us stime_us maxrss_kb\n" to REPORT_FD (both fds are close-on-exec, so
 * the program cannot touch them), then exits with the child's exit code, or 128+signal. If the
 * program cannot be exec'd at all (a runtime missing on this host), it writes
 * "exec-failed ERRNO\n" instead. posix_spawn (vfork-style) saves copying our page tables. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
    if (argc < 4) return 125;
    int fd = atoi(argv[1]);
    int go = atoi(argv[2]);
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) return 125;
    if (go >= 0) {
        if (fcntl(go, F_SETFD, FD_CLOEXEC) != 0) return 125;
        char byte;
        ssize_t got;
        do { got = read(go, &byte, 1); } while (got < 0 && errno == EINTR);
        if (got != 1) return 126;
        close(go);
    }
    pid_t pid;
    int err = posix_spawn(&pid, argv[3], NULL, NULL, argv + 3, environ);
    char line[128];
    if (err != 0) {
        int n = snprintf(line, sizeof line, "exec-failed %d\n", err);
        if (write(fd, line, n) < 0) return 125;
        return 127;
    }
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0) {}
    int n = snprintf(line, sizeof line, "%d %ld %ld %ld\n", status,
                     (long)(ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec),
                     (long)(ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec), ru.ru_maxrss);
    if (write(fd, line, n) < 0) return 125;
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
