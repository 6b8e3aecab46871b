/* measure: PID 1 of the sandbox. Runs the program as its child and reports the child's own
 * resource usage (wait4), which the worker cannot measure from outside: a forked worker's
 * peak RSS survives exec and would hide the program's.
 *   usage: measure FD PROGRAM [ARGS...]
 * writes "status utime_us stime_us maxrss_kb\n" to FD (close-on-exec, so the program cannot
 * write to it), then exits with the child's exit code, or 128+signal. If the program cannot be
 * exec'd at all (a runtime missing on this host), it writes "exec-failed ERRNO\n" instead. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) return 125;
    int fd = atoi(argv[1]);
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) return 125;
    int probe[2];   /* closed by a successful exec; carries errno when exec fails */
    if (pipe2(probe, O_CLOEXEC) != 0) return 125;
    pid_t pid = fork();
    if (pid < 0) return 125;
    if (pid == 0) {
        close(probe[0]);
        execv(argv[2], argv + 2);
        int err = errno;
        if (write(probe[1], &err, sizeof err) < 0) _exit(127);
        _exit(127);
    }
    close(probe[1]);
    int exec_errno = 0;
    ssize_t got;
    do { got = read(probe[0], &exec_errno, sizeof exec_errno); } while (got < 0 && errno == EINTR);
    close(probe[0]);
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0) {}
    char line[128];
    if (got == (ssize_t)sizeof exec_errno) {
        int n = snprintf(line, sizeof line, "exec-failed %d\n", exec_errno);
        if (write(fd, line, n) < 0) return 125;
        return 127;
    }
    int n = snprintf(line, sizeof line, "%d %ld %ld %ld\n", status,
                     (long)(ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec),
                     (long)(ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec), ru.ru_maxrss);
    if (write(fd, line, n) < 0) return 125;
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
