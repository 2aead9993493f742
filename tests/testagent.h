/*
 * testagent.h: agents, client processes of the test's rundownd driven
 * through pipes.
 *
 * An agent is a forked child attached to one or more blocks of the
 * daemon on td.sock.  It runs one command at a time on one of its tags
 * and answers each with an int32_t, so that the test knows exactly what
 * it has done.  Agents never call ck_assert: a broken pipe or a bad
 * command ends one with status 110 or more.
 */
#ifndef RUNDOWN_TESTAGENT_H
#define RUNDOWN_TESTAGENT_H

#include <stdint.h>
#include <sys/types.h>

#define AGENT_COMM "rd-agent"	/* what the daemon reports for an agent */
#define AGENT_MAXTAGS 4

/* Counters an agent shares with the test (MAP_SHARED, mapped before the
 * fork); every field is accessed atomically. */
struct agent_count {
	uint64_t pairs;		/* AG_HAMMER: acquire/release rounds so far */
	uint32_t stop;		/* AG_HAMMER: stop (agent_stop()) */
};

struct agent {
	pid_t pid;
	int cmd;		/* commands to the agent */
	int res;		/* its answers: one int32_t each */
	const char *name;	/* for messages */
	struct agent_count *count;
};

/* The commands; each names its answer.  idx picks one of the agent's
 * tags, n is a count or (AG_WAIT_T) seconds. */
enum {
	AG_ACQUIRE = 'a',	/* rundown_cache_acquire_n(n): 1 or 0 */
	AG_RELEASE = 'r',	/* rundown_cache_release_n(n): 0 */
	AG_WAIT = 'w',		/* rundown_cache_wait() */
	AG_WAIT_T = 't',	/* rundown_cache_wait_timeout(n seconds) */
	AG_COMPLETED = 'c',	/* rundown_cache_completed() */
	AG_REINIT = 'i',	/* rundown_cache_reinit() */
	AG_STATE = 's',		/* rundown_cache_query(): the state */
	AG_HAMMER = 'H',	/* pairs on every tag until agent_stop():
				 * the acquires refused */
	AG_DETACH = 'd',	/* detaches every tag: the first error or 0 */
	AG_EXIT = 'q'		/* exits 0 without a word or a detach */
};

/* Forks an agent named name attached (rundown_attach_at() with flags) to
 * the ntags tags; the attach must succeed. */
void agent_start(struct agent *a, const char *name, const uint32_t *tags,
    unsigned ntags, unsigned flags);

/* Sends a command without reading its answer (see agent_result()). */
void agent_send(struct agent *a, char op, unsigned idx, unsigned n);

/* The agent's next answer, under td.deadline_ms. */
int32_t agent_result(struct agent *a);

/* One command and its answer. */
int32_t agent_do(struct agent *a, char op, unsigned idx, unsigned n);

/* n protections on tag idx, which must be granted. */
void agent_acquire(struct agent *a, unsigned idx, unsigned n);

/* n releases on tag idx. */
void agent_release(struct agent *a, unsigned idx, unsigned n);

/* Tells a hammering agent to stop; agent_result() then says how many of
 * its acquires were refused. */
void agent_stop(struct agent *a);

/* The rounds of acquire and release a hammering agent has made. */
uint64_t agent_pairs(const struct agent *a);

/* Ends the agent without a detach (its rows, if any, are reclaimed). */
void agent_exit(struct agent *a);

/* Detaches every tag (which must succeed) and ends the agent. */
void agent_quit(struct agent *a);

/* SIGKILL, and reaps it. */
void agent_kill(struct agent *a);

/* Closes the test's ends of the agent's pipes and its counters, for an
 * agent already reaped. */
void agent_close(struct agent *a);

#endif /* RUNDOWN_TESTAGENT_H */
