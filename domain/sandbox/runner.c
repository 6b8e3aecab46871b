/* runner: PID 1 of one submission's bubblewrap sandbox. bwrap is started once per submission
 * (file system view, scrubbed environment, its own namespaces); for each test case the worker
 * sends a request and the runner gives that case brand-new namespaces of its own, nested in
 * bwrap's: user (uid 65534, no capabilities after exec, no further user namespaces), mount
 * (a fresh tmpfs /tmp and /dev/shm, a fresh /proc), PID (only the case's processes are visible;
 * all of them die with it), network (its own loopback only), IPC and UTS. Nothing a case did
 * reaches the next one. Costs: one clone and three mounts per case instead of exec'ing bwrap
 * (and two helpers around it) for every case.
 *   usage: runner CTL_FD PROGRAM [ARGS...]
 * CTL_FD is a SOCK_SEQPACKET socket. Request: "cpu_s as_bytes nproc fsize_bytes nofile tmp_bytes"
 * with three fds (stdin, stdout, stderr of the program). Reply, once every process of the case
 * is gone: "R status utime_us stime_us maxrss_kb" (the program's own usage, from its parent
 * inside), "X errno" (the program could not be exec'd), or "E step errno" (the case's sandbox
 * could not be set up). End-of-file on CTL_FD: exit. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define INSIDE_ID 65534   /* the case's uid/gid, mapped onto the runner's own (one id only) */

extern char **environ;
static char workdir[4096];   /* bwrap's --chdir: /tmp for runs (the case's own tmpfs), /box to compile */

struct request { unsigned long long cpu, as, nproc, fsize, nofile, tmp; int fds[3]; };

static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

static void fail(int report, const char *step) {   /* in the case's init: setup failed */
    char line[96];
    int n = snprintf(line, sizeof line, "E %s %d\n", step, errno);
    if (write(report, line, n) < 0) _exit(124);
    _exit(125);
}

static void limit(int resource, unsigned long long value) {
    struct rlimit rl = {value, value};
    if (resource == RLIMIT_CPU) rl.rlim_max = value + 1;   /* SIGXCPU first, SIGKILL a second later */
    if (setrlimit(resource, &rl) != 0) _exit(126);
}

/* the program: its own session, its limits, the case's fds; exec drops every capability */
static void program(struct request *rq, char **argv, int errpipe) {
    setsid();
    limit(RLIMIT_CPU, rq->cpu);
    limit(RLIMIT_AS, rq->as);
    limit(RLIMIT_NPROC, rq->nproc);
    limit(RLIMIT_FSIZE, rq->fsize);
    limit(RLIMIT_NOFILE, rq->nofile);
    limit(RLIMIT_CORE, 0);
    for (int i = 0; i < 3; i++)
        if (dup2(rq->fds[i], i) < 0) _exit(126);
    if (chdir(workdir) != 0) _exit(126);   /* by path: /tmp is the case's new tmpfs now */
    for (int cap = 0; cap <= 63; cap++) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);   /* EINVAL past the last one */
    struct __user_cap_header_struct head = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct none[2];
    memset(none, 0, sizeof none);
    if (syscall(SYS_capset, &head, none) != 0) _exit(126);
    execve(argv[0], argv, environ);
    int err = errno;
    if (write(errpipe, &err, sizeof err) < 0) _exit(127);
    _exit(127);
}

/* PID 1 of the case's namespaces: set them up, run the program, report its own usage */
static void case_init(struct request *rq, char **argv, int sync, int report) {
    char byte, opts[64];
    if (read(sync, &byte, 1) != 1) _exit(125);   /* the runner has written our uid/gid maps */
    close(sync);
    prctl(PR_SET_DUMPABLE, 0);   /* (only now: the runner had to write our maps) the program cannot ptrace us */
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) fail(report, "proc");
    snprintf(opts, sizeof opts, "size=%llu,mode=0755", rq->tmp);
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0) fail(report, "tmp");
    if (mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) != 0) fail(report, "shm");
    if (write_file("/proc/sys/user/max_user_namespaces", "0") != 0) fail(report, "userns");
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);   /* bring up the case's own loopback */
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    if (sock < 0 || ioctl(sock, SIOCGIFFLAGS, &ifr) != 0) fail(report, "lo");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(sock, SIOCSIFFLAGS, &ifr) != 0) fail(report, "lo");
    close(sock);
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) != 0) fail(report, "pipe");
    pid_t pid = fork();
    if (pid < 0) fail(report, "fork");
    if (pid == 0) program(rq, argv, errpipe[1]);
    close(errpipe[1]);
    for (int i = 0; i < 3; i++) close(rq->fds[i]);   /* stdout's end-of-file is the program's */
    int err = 0, status = 0;
    ssize_t got;
    do { got = read(errpipe[0], &err, sizeof err); } while (got < 0 && errno == EINTR);
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {}
    char line[128];
    int n = got == (ssize_t)sizeof err
        ? snprintf(line, sizeof line, "X %d\n", err)
        : snprintf(line, sizeof line, "R %d %ld %ld %ld\n", status,
                   (long)(ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec),
                   (long)(ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec), ru.ru_maxrss);
    if (write(report, line, n) < 0) _exit(124);
    _exit(0);   /* PID 1 exits: the kernel kills and reaps whatever the program left behind */
}

static int receive(int ctl, struct request *rq) {
    char data[256];
    char control[CMSG_SPACE(3 * sizeof(int))];
    struct iovec iov = {data, sizeof data - 1};
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do { n = recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n <= 0) return -1;
    data[n] = 0;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(3 * sizeof(int))) return -1;
    memcpy(rq->fds, CMSG_DATA(c), 3 * sizeof(int));
    if (sscanf(data, "%llu %llu %llu %llu %llu %llu", &rq->cpu, &rq->as, &rq->nproc, &rq->fsize, &rq->nofile,
               &rq->tmp) != 6) return -1;
    return 0;
}

static void reply(int ctl, const char *text) {
    if (send(ctl, text, strlen(text), MSG_NOSIGNAL) < 0) _exit(0);
}

static int map_ids(pid_t pid) {
    char path[64], map[64];
    snprintf(map, sizeof map, "%d %d 1\n", INSIDE_ID, (int)getuid());
    snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
    if (write_file(path, map) != 0) return -1;
    snprintf(path, sizeof path, "/proc/%d/setgroups", (int)pid);
    if (write_file(path, "deny") != 0) return -1;
    snprintf(map, sizeof map, "%d %d 1\n", INSIDE_ID, (int)getgid());
    snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
    return write_file(path, map);
}

int main(int argc, char **argv) {
    if (argc < 3) return 125;
    int ctl = atoi(argv[1]);
    if (fcntl(ctl, F_SETFD, FD_CLOEXEC) != 0 || !getcwd(workdir, sizeof workdir)) return 125;
    const int flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
    struct request rq;
    while (receive(ctl, &rq) == 0) {
        int sync[2], report[2];
        char line[160];
        if (pipe2(sync, O_CLOEXEC) != 0 || pipe2(report, O_CLOEXEC) != 0) {
            snprintf(line, sizeof line, "E pipe %d\n", errno);
            reply(ctl, line);
            continue;
        }
        pid_t pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid == 0) {
            close(ctl);
            close(sync[1]);
            close(report[0]);
            case_init(&rq, argv + 2, sync[0], report[1]);
        }
        int err = errno;
        close(sync[0]);
        close(report[1]);
        for (int i = 0; i < 3; i++) close(rq.fds[i]);
        if (pid < 0) {
            snprintf(line, sizeof line, "E clone %d\n", err);
        } else {
            int failed = map_ids(pid) != 0 || write(sync[1], "g", 1) != 1;
            if (failed) {
                snprintf(line, sizeof line, "E map %d\n", errno);
                kill(pid, SIGKILL);
            }
            int status;
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}   /* the case's init, after its namespace died */
            ssize_t n = failed ? 1 : read(report[0], line, sizeof line - 1);
            if (n <= 0)
                snprintf(line, sizeof line, "E init %d\n", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
            else if (!failed)
                line[n] = 0;
        }
        close(sync[1]);
        close(report[0]);
        reply(ctl, line);
    }
    return 0;
}
