/* testagent.c: client processes of the test's rundownd, driven through
 * pipes (see testagent.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "testagent.h"
#include "testdaemon.h"
#include "testutil.h"

#define SEQ __ATOMIC_SEQ_CST

/* One command on the pipe: fixed size, so a read gets all of it. */
struct agent_cmd {
	char op;
	uint8_t idx;		/* which of its tags */
	uint16_t n;
};

/* In the agent: acquire and release on every tag until stopped; how many
 * acquires were refused. */
static int32_t
agent_hammer(struct agent_count *count, rundown_cache_t **ref,
    unsigned ntags)
{
	int32_t refused = 0;
	unsigned i;

	while (!__atomic_load_n(&count->stop, SEQ)) {
		for (i = 0; i < ntags; i++) {
			if (!rundown_cache_acquire(ref[i])) {
				refused++;
				continue;
			}
			rundown_cache_release(ref[i]);
		}
		__atomic_fetch_add(&count->pairs, 1, SEQ);
	}
	return refused;
}

/* The agent: attaches to every tag, answers the result, then serves
 * commands until told to exit or the test is gone. */
static void
agent_main(struct agent_count *count, int cmd, int res, const uint32_t *tags,
    unsigned ntags, unsigned flags)
{
	rundown_cache_t *ref[AGENT_MAXTAGS] = { NULL };
	struct rundown_status st;
	struct timespec ts;
	struct agent_cmd c;
	unsigned i;
	int32_t r = 0;

	prctl(PR_SET_NAME, AGENT_COMM, 0, 0, 0);
	for (i = 0; i < ntags && r == 0; i++)
		r = rundown_attach_at(td.sock, tags[i], flags, &ref[i]);
	test_put(res, &r, sizeof(r));
	if (r != 0)
		_exit(0);
	for (;;) {
		if (read(cmd, &c, sizeof(c)) != (ssize_t)sizeof(c))
			_exit(111);	/* the test is gone */
		if (c.idx >= ntags)
			_exit(112);
		switch (c.op) {
		case AG_ACQUIRE:
			r = rundown_cache_acquire_n(ref[c.idx], c.n);
			break;
		case AG_RELEASE:
			rundown_cache_release_n(ref[c.idx], c.n);
			r = 0;
			break;
		case AG_WAIT:
			r = rundown_cache_wait(ref[c.idx]);
			break;
		case AG_WAIT_T:
			ts.tv_sec = c.n;
			ts.tv_nsec = 0;
			r = rundown_cache_wait_timeout(ref[c.idx], &ts);
			break;
		case AG_COMPLETED:
			r = rundown_cache_completed(ref[c.idx]);
			break;
		case AG_REINIT:
			r = rundown_cache_reinit(ref[c.idx]);
			break;
		case AG_STATE:
			r = rundown_cache_query(ref[c.idx], &st);
			if (r == 0)
				r = (int32_t)st.state;
			break;
		case AG_HAMMER:
			r = agent_hammer(count, ref, ntags);
			break;
		case AG_DETACH:
			/* A detach ends the descriptor even when it fails. */
			r = 0;
			for (i = 0; i < ntags; i++) {
				int32_t d = rundown_detach(ref[i]);

				ref[i] = NULL;
				if (r == 0)
					r = d;
			}
			break;
		case AG_EXIT:
			_exit(0);
		default:
			_exit(113);
		}
		test_put(res, &r, sizeof(r));
	}
}

/* Forks the agent; its counters are mapped first so that both sides see
 * the same ones. */
void
agent_start(struct agent *a, const char *name, const uint32_t *tags,
    unsigned ntags, unsigned flags)
{
	int cmd[2], res[2];
	int32_t r;

	ck_assert_uint_le(ntags, AGENT_MAXTAGS);
	ck_assert_int_eq(pipe2(cmd, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(res, O_CLOEXEC), 0);
	a->name = name;
	a->count = test_map_shared(sizeof(*a->count));
	a->pid = test_fork_flushed();
	if (a->pid == 0) {
		close(cmd[1]);
		close(res[0]);
		agent_main(a->count, cmd[0], res[1], tags, ntags, flags);
	}
	close(cmd[0]);
	close(res[1]);
	a->cmd = cmd[1];
	a->res = res[0];
	r = agent_result(a);
	ck_assert_msg(r == 0, "%s: attach: %s", a->name, rundown_strerror(r));
}

/* Writes one command; the answer is left in the pipe. */
void
agent_send(struct agent *a, char op, unsigned idx, unsigned n)
{
	struct agent_cmd c = { .op = op, .idx = (uint8_t)idx,
	    .n = (uint16_t)n };

	ck_assert_uint_le(n, UINT16_MAX);
	ck_assert_int_eq(write(a->cmd, &c, sizeof(c)), (ssize_t)sizeof(c));
}

/* Reads one answer, failing with the daemon's log if none comes. */
int32_t
agent_result(struct agent *a)
{
	int32_t r;

	td_read_all(a->res, &r, sizeof(r), a->name, NULL);
	return r;
}

/* A command and its answer. */
int32_t
agent_do(struct agent *a, char op, unsigned idx, unsigned n)
{
	agent_send(a, op, idx, n);
	return agent_result(a);
}

/* One acquire_n in the agent, which must be granted. */
void
agent_acquire(struct agent *a, unsigned idx, unsigned n)
{
	ck_assert_msg(agent_do(a, AG_ACQUIRE, idx, n) == 1,
	    "%s: acquire of %u on tag %u refused", a->name, n, idx);
}

/* One release_n in the agent. */
void
agent_release(struct agent *a, unsigned idx, unsigned n)
{
	ck_assert_int_eq(agent_do(a, AG_RELEASE, idx, n), 0);
}

/* Raises the hammering agent's stop flag. */
void
agent_stop(struct agent *a)
{
	__atomic_store_n(&a->count->stop, 1, SEQ);
}

/* Reads the hammering agent's round counter. */
uint64_t
agent_pairs(const struct agent *a)
{
	return __atomic_load_n(&a->count->pairs, SEQ);
}

/* AG_EXIT, and the agent must exit 0. */
void
agent_exit(struct agent *a)
{
	agent_send(a, AG_EXIT, 0, 0);
	test_reap_named(a->pid, a->name);
	agent_close(a);
}

/* AG_DETACH, which must succeed, then agent_exit(). */
void
agent_quit(struct agent *a)
{
	int32_t r = agent_do(a, AG_DETACH, 0, 0);

	ck_assert_msg(r == 0, "%s: detach: %s", a->name, rundown_strerror(r));
	agent_exit(a);
}

/* Kills the agent where it stands, as a crash would. */
void
agent_kill(struct agent *a)
{
	pid_t r;
	int st = 0;

	ck_assert_int_eq(kill(a->pid, SIGKILL), 0);
	do
		r = waitpid(a->pid, &st, 0);
	while (r < 0 && errno == EINTR);
	ck_assert_int_eq(r, a->pid);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	    "%s (pid %d): status %#x, not killed", a->name, (int)a->pid, st);
	agent_close(a);
}

/* Releases what agent_start() took in the test. */
void
agent_close(struct agent *a)
{
	close(a->cmd);
	close(a->res);
	munmap(a->count, sizeof(*a->count));
	a->count = NULL;
}
