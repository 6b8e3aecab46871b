/* launch: the worker's side of a sandbox run, exec'd straight from the worker (so Python can
 * use vfork: a fork() of a large worker costs tens of milliseconds). It starts a new session,
 * joins the slot's cgroups, sets the rlimits, drops to the slot uid, then execs bwrap.
 *   usage: launch UID CGROUPS CPU_S AS_BYTES NPROC FSIZE_BYTES NOFILE PROGRAM [ARGS...]
 * UID -1: keep; CGROUPS: cgroup.procs files separated by ':', or '-' for none.
 * Exits 125 with a message on stderr if any step fails (the sandbox then never ran). */
#include <fcntl.h>
#include <grp.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

static void limit(int resource, rlim_t soft, rlim_t hard, const char *name) {
    struct rlimit rl = {soft, hard};
    if (setrlimit(resource, &rl) != 0) {
        fprintf(stderr, "launch: setrlimit %s failed\n", name);
        exit(125);
    }
}

static void join(char *files) {   /* before dropping root: the slot's groups are root's */
    if (strcmp(files, "-") == 0) return;
    for (char *file = strtok(files, ":"); file; file = strtok(NULL, ":")) {
        int fd = open(file, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1) {   /* "0": the writing process */
            fprintf(stderr, "launch: cannot join the cgroup %s\n", file);
            exit(125);
        }
        close(fd);
    }
}

int main(int argc, char **argv) {
    if (argc < 9) {
        fprintf(stderr, "launch: usage: launch UID CGROUPS CPU AS NPROC FSIZE NOFILE PROGRAM [ARGS...]\n");
        return 125;
    }
    long uid = atol(argv[1]);
    join(argv[2]);
    argv++;   /* the rest as before */
    rlim_t cpu = strtoull(argv[2], NULL, 10);
    setsid();
    limit(RLIMIT_CPU, cpu, cpu + 1, "cpu");
    limit(RLIMIT_AS, strtoull(argv[3], NULL, 10), strtoull(argv[3], NULL, 10), "as");
    limit(RLIMIT_NPROC, strtoull(argv[4], NULL, 10), strtoull(argv[4], NULL, 10), "nproc");
    limit(RLIMIT_FSIZE, strtoull(argv[5], NULL, 10), strtoull(argv[5], NULL, 10), "fsize");
    limit(RLIMIT_NOFILE, strtoull(argv[6], NULL, 10), strtoull(argv[6], NULL, 10), "nofile");
    limit(RLIMIT_CORE, 0, 0, "core");
    if (uid >= 0) {
        if (setgroups(0, NULL) != 0 || setgid((gid_t)uid) != 0 || setuid((uid_t)uid) != 0 ||
            getuid() != (uid_t)uid || geteuid() != (uid_t)uid) {
            fprintf(stderr, "launch: cannot switch to uid %ld\n", uid);
            return 125;
        }
    }
    execv(argv[7], argv + 7);
    fprintf(stderr, "launch: cannot exec %s\n", argv[7]);
    return 125;
}
