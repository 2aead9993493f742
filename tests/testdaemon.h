/*
 * testdaemon.h: a private rundownd for the Check suites that need one.
 *
 * A run makes one directory (td_begin) and each test a directory of its
 * own below it (td_setup), with the daemon's socket in dir/run and its
 * stderr in dir/rundownd.log.  td_teardown stops the daemon (it must exit
 * 0) and removes the test's traces; td_end removes what every test left,
 * including a failed one whose teardown did not run.
 */
#ifndef RUNDOWN_TESTDAEMON_H
#define RUNDOWN_TESTDAEMON_H

#include <check.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <rundown/rundown.h>

#include "block.h"
#include "proto.h"

#define TD_SOCKLEN 108		/* sizeof(sun_path) */

/* NULL-terminated argument vector, for rundownd and rundownctl. */
#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* The run's and the current test's state. */
struct td {
	char base[96];		/* the run's directory (td_begin) */
	char dir[128];		/* this test's directory */
	char sock[TD_SOCKLEN];	/* dir/run/rundownd.sock; dir/run is new */
	char log[PATH_MAX];	/* the daemon's stderr */
	char rundownd[PATH_MAX];
	char rundownctl[PATH_MAX];
	pid_t pid;		/* the daemon, or 0 */
	rundown_conn_t *conn;	/* the test's own control connection */
	int deadline_ms;	/* safety net of td_start's poll */
	unsigned nofile;	/* if not 0, the daemon's RLIMIT_NOFILE */
};

extern struct td td;

/* The monotonic clock. */
struct timespec td_now(void);

/* Milliseconds since start. */
long td_elapsed_ms(const struct timespec *start);

/* The pause between two looks at something the test cannot be told. */
void td_pause(void);

/* How many of the daemon's threads are named name (/proc/PID/task/N/comm:
 * rd-watch, rd-close). */
unsigned td_threads_named(const char *name);

/* As td_threads_named(), and how many of them sleep (state S) in
 * *sleeping if not NULL. */
unsigned td_threads_sleeping(const char *name, unsigned *sleeping);

/* Reads up to size - 1 bytes of the end of a file into buf; returns buf
 * (empty if the file cannot be read). */
char *td_file_tail(const char *path, char *buf, size_t size);

/* The end of the daemon's log, for failure messages. */
const char *td_log(void);

/* The daemon log's size now: where the next lines will begin. */
off_t td_log_size(void);

/* The daemon log from off on (malloc'd; the caller frees it). */
char *td_log_from(off_t off);

/* How many times s occurs in text. */
unsigned td_count(const char *text, const char *s);

/* Polls the log from off on until it holds s at least n times; fails
 * after td.deadline_ms. */
void td_await_log(off_t off, const char *s, unsigned n);

/* /dev/shm path of the object of tag for the daemon on path. */
void td_shm_path(const char *path, uint32_t tag, char *buf, size_t size);

/* A block of the daemon on td.sock as the daemon maps it (root only):
 * the header read-write at b, and at their places the rows its record
 * (NAME.meta) lends, pid[r] their owners; l.live says which. */
struct td_view {
	struct rundown_block *b;
	struct block_layout l;
	uint8_t live[PROTO_MAX_ENTRIES];
	int32_t pid[PROTO_MAX_ENTRIES];
	struct proto_meta meta;
};
void td_view_map(uint32_t tag, struct td_view *v);
void td_view_unmap(struct td_view *v);

/* Forks rundownd ARGV (argv[0] is its name) with stdin and stdout on
 * /dev/null, stderr appended to the log, and RLIMIT_NOFILE (soft and
 * hard) td.nofile if set; returns its pid. */
pid_t td_spawn(const char *const *argv);

/* Waits until the rundownd pid answers root on path (connect and list);
 * fails if it exits first, or after td.deadline_ms. */
void td_await_daemon(const char *path, pid_t pid);

/* Runs rundownd ARGV (argv[0] its name; its stderr to the daemon's log),
 * passed fd as a service manager passes a socket if fd >= 0, and returns
 * its exit status; it must exit by itself within td.deadline_ms, or the
 * test fails.  td_exit_status(argv) passes nothing. */
int td_exit_status_fd(const char *const *argv, int fd);
int td_exit_status(const char *const *argv);

/* As td_spawn(), and if fd >= 0 passes it as fd 3 with LISTEN_FDS=1 and
 * LISTEN_PID set to the daemon's pid, as systemd passes a socket. */
pid_t td_spawn_fd(const char *const *argv, int fd);

/* Starts rundownd -d -S td.sock EXTRA... (NULL: none) and waits until it
 * answers; fails if it exits first or misses the deadline. */
void td_start(const char *const *extra);

/* SIGTERM, and the daemon must exit 0. */
void td_stop(void);

/* A new control connection to the test's daemon; it must succeed. */
rundown_conn_t *td_connect(void);

/* The block's status and up to max holders (through td.conn); returns
 * how many there are. */
size_t td_status(uint32_t tag, struct rundown_block_info *info,
    struct rundown_holder *h, size_t max);

/* Polls the block until its state is state and (attached >= 0) that
 * many rows are attached: its status then.  Fails, with the daemon's
 * log, if watch (if > 0) exits first, or after td.deadline_ms. */
struct rundown_block_info td_await_block(uint32_t tag,
    enum rundown_state state, int attached, pid_t watch);

/* The holder with pid among the n of h, or NULL. */
const struct rundown_holder *td_holder_of(const struct rundown_holder *h,
    size_t n, pid_t pid);

/* Fixture part: a test directory (mode), a socket path in it, a daemon
 * on it started with EXTRA..., and td.conn to it. */
void td_setup(mode_t mode, const char *const *extra);

/* Fixture: closes td.conn, stops the daemon if it runs (it must exit 0
 * and leave nothing in /dev/shm but whole blocks), fails if another
 * daemon of the test still runs (and kills it), and removes the traces
 * of every daemon of the test. */
void td_teardown(void);

/* A test case named name, added to s, whose tests each run under the
 * fixture setup (NULL: none) and td_teardown(), with a Check timeout of
 * seconds (test_timeout()). */
TCase *td_case(Suite *s, const char *name, void (*setup)(void),
    unsigned seconds);

/* Makes the run's directory $TMPDIR/NAME.XXXXXX with mode; deadline_ms is
 * the safety net of td_start.  0, or -1 with errno set. */
int td_begin(const char *name, mode_t mode, int deadline_ms);

/* Removes what the tests left: each test's directory and its daemons'
 * blocks in /dev/shm, then the run's directory; kills any daemon of
 * theirs that still runs.  0, or -1 (said on stderr) if one did. */
int td_end(void);

/* A suite's main(): td_begin(name, mode, deadline_ms), then the suite
 * that make() builds, then td_end(); the process's exit status. */
int td_main(const char *name, mode_t mode, int deadline_ms,
    Suite *(*make)(void));

/* Reads exactly n bytes from fd (a child's pipe) within td.deadline_ms;
 * fails, naming what and with the daemon's log, if the time runs out or
 * the writer closes first.  check, if not NULL, runs before every look
 * (at least every 100 ms), so a failure a child reports elsewhere shows
 * at once. */
void td_read_all(int fd, void *buf, size_t n, const char *what,
    void (*check)(void));

/* Whether fd has something to read now (or is at end of file). */
bool td_readable(int fd);

/* Starts rundownctl -S path ARGS... (at most 28 of them; no -S if path
 * is NULL) with stdin on /dev/null and stdout and stderr in
 * td.dir/NAME.out and NAME.err; returns its pid. */
pid_t td_ctl_start(const char *path, const char *name,
    const char *const *args);

/* The end of what rundownctl NAME wrote to ext ("out" or "err").  The
 * last two answers stay valid, so that a message can quote both. */
const char *td_ctl_output(const char *name, const char *ext);

/* Waits for the child pid to end, polling, and returns its wait status;
 * fails, naming what, with the daemon's log, past td.deadline_ms. */
int td_reap_child(pid_t pid, const char *what);

/* Waits for rundownctl NAME: its exit status.  Fails, with its stderr or
 * the daemon's log, if a signal killed it or it still runs after
 * td.deadline_ms. */
int td_ctl_finish(pid_t pid, const char *name);

/* Hand-made frames on a bare socket, for tests of what the daemon does
 * with bad input.  Each fails the test on a local error; the reads give
 * up after deadline_ms. */
struct proto_hdr;

/* A bare socket connected to the test's daemon. */
int td_raw_connect(void);

/* Sends len bytes, with descriptor pass (if >= 0) as SCM_RIGHTS. */
void td_raw_send(int fd, const void *buf, size_t len, int pass);

/* Sends a request frame made of these fields. */
void td_raw_request(int fd, uint16_t type, uint32_t id, uint32_t tag,
    uint32_t arg, uint32_t serial);

/* Reads up to len bytes, fewer only at end of file: how many.  what
 * names the awaited thing for a failure message. */
size_t td_raw_read(int fd, void *buf, size_t len, const char *what);

/* Reads one whole frame into buf and decodes it. */
void td_raw_frame(int fd, struct proto_hdr *h, void *buf, size_t size);

/* Reads an ERROR frame of id and code. */
void td_raw_error(int fd, uint32_t id, int code, const char *what);

/* Reads an ERROR frame of id and code, then end of file. */
void td_raw_expect_error(int fd, uint32_t id, int code, const char *what);

#endif /* RUNDOWN_TESTDAEMON_H */
