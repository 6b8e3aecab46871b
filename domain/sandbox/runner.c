/* runner: PID 1 of one submission's bubblewrap sandbox. bwrap is started once per submission
 * (file system view, scrubbed environment, its own namespaces); for each test case the worker
 * sends a request and the runner gives that case brand-new namespaces of its own, nested in
 * bwrap's: user (uid 65534, no capabilities after exec, no further user namespaces), mount
 * (a fresh tmpfs /tmp and /dev/shm, a fresh /proc), PID (only the case's processes are visible;
 * all of them die with it), network (its own loopback only), IPC and UTS. Nothing a case did
 * reaches the next one. Costs: one clone and three mounts per case instead of exec'ing bwrap
 * (and two helpers around it) for every case.
 *   usage: runner CTL_FD PROGRAM [ARGS...]
 * CTL_FD is a SOCK_SEQPACKET socket. Request:
 *   "cpu_ms as_bytes nproc fsize_bytes nofile tmp_bytes tmp_inodes tree_rss_bytes wall_ms"
 * with three fds (stdin, stdout, stderr of the program). Reply, once every process of the case
 * is gone: "R status cpu_us maxrss_kb tree_rss_kb flags wall_us" (see case_init), "X errno" (the program
 * could not be exec'd), or "E step errno" (the case's sandbox could not be set up).
 * End-of-file on CTL_FD: exit.
 *
 * The whole process tree of a case counts, waited for or not: the case's init samples every
 * process of the case (its /proc shows nothing else) while the program runs, kills them all when
 * their CPU time together passes the limit (or, tree_rss_bytes > 0, their resident memory
 * together passes it: the fallback where no memory cgroup holds the case), and once the program
 * has exited it kills whatever is left and reaps it, so RUSAGE_CHILDREN holds the CPU time of
 * every process the case ever had.
 *
 * The wall clock (wall_ms) is the program's own: time since it started less the time its main
 * thread spent runnable but waiting for a CPU (run_delay in /proc/PID/schedstat). A program that
 * sleeps or blocks is stopped at wall_ms; one that other work on the host kept from running is
 * not charged for that wait (the worker keeps an outer clock for a case that never ends). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <dirent.h>
#include <ftw.h>
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
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define INSIDE_ID 65534   /* the case's uid/gid, mapped onto the runner's own (one id only) */

extern char **environ;
static char workdir[4096];   /* bwrap's --chdir: /tmp for runs (the case's own tmpfs), /box to compile */

struct request { unsigned long long cpu_ms, as, nproc, fsize, nofile, tmp, inodes, tree_rss, wall_ms; int fds[3]; };

/* reply flags */
#define F_CPU 1    /* the case's processes together used more CPU than the limit: all killed */
#define F_MEM 2    /* their resident memory together passed tree_rss (fallback mode): all killed */
#define F_FILE 4   /* a file reached the size limit, or /tmp or /dev/shm ran out of space or inodes */
#define F_WALL 8   /* the program's own wall clock ran out: all killed */

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
    if (setrlimit(resource, &rl) != 0) _exit(126);
}

/* RLIMIT_CPU is only a backstop per process, a whole second (or a quarter of the limit) above
 * it: the verdict compares the measured time with the limit, and the case's init kills the tree
 * as soon as it passes the limit. SIGXCPU at the soft limit, SIGKILL a second later. */
static void cpu_backstop(unsigned long long cpu_ms) {
    unsigned long long margin = cpu_ms / 4 > 1000 ? cpu_ms / 4 : 1000;
    unsigned long long soft = (cpu_ms + margin + 999) / 1000;
    struct rlimit rl = {soft, soft + 1};
    if (setrlimit(RLIMIT_CPU, &rl) != 0) _exit(126);
}

/* the program: its own session, its limits, the case's fds; exec drops every capability */
static void program(struct request *rq, char **argv, int errpipe) {
    setsid();
    cpu_backstop(rq->cpu_ms);
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

/* one sample of every process of the case: CPU time (their own and their waited-for children's)
 * and resident memory, summed */
static void sample(long long *cpu_ticks, long long *rss_pages) {
    *cpu_ticks = *rss_pages = 0;
    DIR *proc = opendir("/proc");
    if (!proc) return;
    struct dirent *e;
    char path[300], buf[1024];
    while ((e = readdir(proc))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9' || strcmp(e->d_name, "1") == 0) continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0) continue;
        buf[n] = 0;
        char *p = strrchr(buf, ')');   /* the command name may hold spaces and parentheses */
        if (!p) continue;
        unsigned long long ut, st;
        long long cut, cst, rss;
        /* after ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
         * utime(14) stime cutime cstime priority nice threads itrealvalue starttime vsize rss(24) */
        if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld %*d %*d %*d %*d "
                   "%*u %*u %lld", &ut, &st, &cut, &cst, &rss) != 5) continue;
        *cpu_ticks += (long long)(ut + st) + cut + cst;
        *rss_pages += rss;
    }
    closedir(proc);
}

static long long usage_us(void) {   /* CPU time of every process we (the case's init) reaped */
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static long long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static long long run_delay_us(pid_t pid) {   /* time runnable but not running (0 if unknown) */
    char path[64], buf[128];
    snprintf(path, sizeof path, "/proc/%d/schedstat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    unsigned long long on_cpu, delay;
    if (n <= 0) return 0;
    buf[n] = 0;
    return sscanf(buf, "%llu %llu", &on_cpu, &delay) == 2 ? (long long)(delay / 1000) : 0;
}

static unsigned long long fsize_limit;
static int at_limit(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)path; (void)ftw;
    return type == FTW_F && (unsigned long long)st->st_size >= fsize_limit;
}

static int file_limit_reached(struct request *rq) {
    const char *places[] = {"/tmp", "/dev/shm"};
    for (int i = 0; i < 2; i++) {
        struct statvfs vfs;
        if (statvfs(places[i], &vfs) == 0 && (vfs.f_bavail == 0 || vfs.f_favail == 0)) return 1;
    }
    fsize_limit = rq->fsize;
    for (int i = 0; i < 2; i++)
        if (nftw(places[i], at_limit, 8, FTW_PHYS | FTW_MOUNT) == 1) return 1;
    return 0;
}

/* PID 1 of the case's namespaces: set them up, run the program, watch the whole tree, report */
static void case_init(struct request *rq, char **argv, int sync, int report) {
    char byte, opts[96];
    if (read(sync, &byte, 1) != 1) _exit(125);   /* the runner has written our uid/gid maps */
    close(sync);
    prctl(PR_SET_DUMPABLE, 0);   /* (only now: the runner had to write our maps) the program cannot ptrace us */
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) fail(report, "proc");
    snprintf(opts, sizeof opts, "size=%llu,nr_inodes=%llu,mode=0755", rq->tmp, rq->inodes);
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
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);   /* a child's exit wakes sigtimedwait below */
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) != 0) fail(report, "pipe");
    pid_t pid = fork();
    if (pid < 0) fail(report, "fork");
    if (pid == 0) {
        sigprocmask(SIG_UNBLOCK, &chld, NULL);
        program(rq, argv, errpipe[1]);
    }
    close(errpipe[1]);
    for (int i = 0; i < 3; i++) close(rq->fds[i]);   /* stdout's end-of-file is the program's */
    int err = 0, status = 0, flags = 0;
    ssize_t got;
    do { got = read(errpipe[0], &err, sizeof err); } while (got < 0 && errno == EINTR);
    long hz = sysconf(_SC_CLK_TCK);
    long long started = now_us(), own_wall = 0, delay = 0;
    long long tree_rss_kb = 0, page_kb = sysconf(_SC_PAGESIZE) / 1024;
    long tick_ns = 1000000;   /* sample after 1, 2, 4, 8, then every 10 ms */
    for (int done = 0; !done;) {
        pid_t dead;
        int any;
        while ((dead = waitpid(-1, &any, WNOHANG)) > 0)   /* the program, or an orphan of it */
            if (dead == pid) {
                status = any;
                done = 1;
            }
        if (done) break;
        long long ticks, pages;
        sample(&ticks, &pages);
        long long cpu_us = usage_us() + ticks * 1000000LL / hz;
        if (pages * page_kb > tree_rss_kb) tree_rss_kb = pages * page_kb;
        long long d = run_delay_us(pid);   /* 0 once the program is a zombie: keep the last */
        if (d > delay) delay = d;
        own_wall = now_us() - started - delay;
        if (cpu_us > (long long)rq->cpu_ms * 1000) flags |= F_CPU;
        if (rq->tree_rss && (unsigned long long)pages * page_kb * 1024 > rq->tree_rss) flags |= F_MEM;
        if (own_wall > (long long)rq->wall_ms * 1000) flags |= F_WALL;
        if (flags & (F_CPU | F_MEM | F_WALL)) {
            kill(-1, SIGKILL);   /* every process of the case's PID namespace but us */
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
            break;
        }
        struct timespec ts = {0, tick_ns};
        sigtimedwait(&chld, NULL, &ts);
        if (tick_ns < 10000000) tick_ns = tick_ns * 2 > 10000000 ? 10000000 : tick_ns * 2;
    }
    kill(-1, SIGKILL);   /* what the program left behind: killed and reaped, so its usage counts */
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {}
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    if (!(flags & F_WALL)) own_wall = now_us() - started - delay;
    if (status != 0 && !(flags & (F_CPU | F_MEM | F_WALL)) && file_limit_reached(rq)) flags |= F_FILE;
    if ((long long)ru.ru_maxrss > tree_rss_kb) tree_rss_kb = ru.ru_maxrss;
    char line[160];
    int n = got == (ssize_t)sizeof err
        ? snprintf(line, sizeof line, "X %d\n", err)
        : snprintf(line, sizeof line, "R %d %lld %ld %lld %d %lld\n", status, usage_us(), ru.ru_maxrss, tree_rss_kb,
                   flags, own_wall);
    if (write(report, line, n) < 0) _exit(124);
    _exit(0);
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
    if (sscanf(data, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &rq->cpu_ms, &rq->as, &rq->nproc, &rq->fsize,
               &rq->nofile, &rq->tmp, &rq->inodes, &rq->tree_rss, &rq->wall_ms) != 9) return -1;
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
