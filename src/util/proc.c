#include "util/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/clock.h"

extern char **environ;

void proc_result_free(proc_result_t *res)
{
    buf_free(&res->out);
    buf_free(&res->err);
}

/* Reads what fd has into b; false once the pipe is closed or failed. */
static bool drain(int fd, buf_t *b)
{
    char tmp[65536];
    ssize_t r = read(fd, tmp, sizeof tmp);
    if (r > 0) {
        buf_append(b, tmp, (size_t)r);
        return true;
    }
    return r < 0 && (errno == EINTR || errno == EAGAIN);
}

int proc_run(const proc_run_t *r, proc_result_t *res, char *err, size_t errlen)
{
    int in[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1}, rc = 0;
    pid_t pid = -1;
    memset(res, 0, sizeof *res);
    buf_init(&res->out, r->max_out);
    buf_init(&res->err, r->max_err);
    res->exit_code = -1;
    if (pipe2(in, O_CLOEXEC) || pipe2(outp, O_CLOEXEC) || pipe2(errp, O_CLOEXEC)) {
        rc = -errno;
        snprintf(err, errlen, "cannot start %s: %s", r->path, strerror(errno));
        goto out;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    int sp = posix_spawn(&pid, r->path, &fa, NULL, r->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]), close(outp[1]), close(errp[1]);
    in[0] = outp[1] = errp[1] = -1;
    if (sp != 0) {
        pid = -1;
        rc = -sp;
        snprintf(err, errlen, "cannot start %s: %s", r->path, strerror(sp));
        goto out;
    }
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    const char *input = r->input;
    size_t written = 0;
    double deadline = clock_now() + r->timeout_s;
    bool out_open = true, err_open = true;
    if (r->input_len == 0) close(in[1]), in[1] = -1;
    while (out_open || err_open) {
        struct pollfd pf[3] = {{out_open ? outp[0] : -1, POLLIN, 0},
                               {err_open ? errp[0] : -1, POLLIN, 0},
                               {in[1], POLLOUT, 0}};
        int left = (int)((deadline - clock_now()) * 1000);
        if (left <= 0) {
            res->timed_out = true;
            break;
        }
        if (poll(pf, in[1] >= 0 ? 3 : 2, left) < 0 && errno != EINTR) break;
        if (in[1] >= 0 && (pf[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = write(in[1], input + written, r->input_len - written);
            if (w > 0) written += (size_t)w;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == r->input_len)
                close(in[1]), in[1] = -1;
        }
        if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) out_open = drain(outp[0], &res->out);
        if (buf_error(&res->out)) { /* more than max_out: stop it */
            res->out_too_large = true;
            break;
        }
        if (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) err_open = drain(errp[0], &res->err);
    }
    int status = 0;
    if (out_open || err_open) kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    pid = -1;
    if (WIFEXITED(status)) res->exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) res->signal = WTERMSIG(status);
out:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0) close(in[i]);
        if (outp[i] >= 0) close(outp[i]);
        if (errp[i] >= 0) close(errp[i]);
    }
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    if (rc) proc_result_free(res);
    return rc;
}
