/*
 * check_input.c: bad tags, sizes, counts, timeouts and paths.
 *
 * Each public function of the shared-block family that takes one of these
 * from its caller is given bad ones, and must return the error that
 * rundown_shared(3) documents and change nothing; rundownctl(1) must exit
 * with the documented status and a message that names the program and
 * the bad value.  A few cases need a daemon (what it refuses, and the
 * timeouts it is sent); they start a private one with testdaemon.  Every
 * file a test makes lies in its own directory, which the teardown
 * removes, and main() removes the run's directory.
 *
 * The plain and cache-aware families' NULL and timeout checks are in
 * check_ref and check_cache; only their counts and sizes are here.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "testdaemon.h"
#include "testutil.h"

#define IN_DEADLINE_MS 20000	/* safety net of every poll */
#define IN_MAX_ROWS "4"		/* the daemon's -R in the daemon cases */

/* A value that a failed call must leave alone. */
#define SENTINEL_TAG 0xa5a5a5a5u

/* ---- fixtures ---------------------------------------------------------- */

/* Fixture without a daemon: the test's directory and the programs'
 * paths, as td_setup() makes them; td_teardown() removes the directory. */
static void
dir_setup(void)
{
	const char *top = getenv("top_builddir");
	char path[PATH_MAX];

	if (top == NULL || *top == '\0')
		top = ".";
	snprintf(td.rundownctl, sizeof(td.rundownctl), "%s/src/rundownctl",
	    top);
	snprintf(td.rundownd, sizeof(td.rundownd), "%s/src/rundownd", top);
	snprintf(td.dir, sizeof(td.dir), "%s/tXXXXXX", td.base);
	ck_assert_ptr_nonnull(mkdtemp(td.dir));
	snprintf(path, sizeof(path), "%s/run/rundownd.sock", td.dir);
	ck_assert_uint_lt(strlen(path), sizeof(td.sock));
	memcpy(td.sock, path, strlen(path) + 1);
	snprintf(td.log, sizeof(td.log), "%s/rundownd.log", td.dir);
}

/* Fixture: a daemon that allows IN_MAX_ROWS rows a block. */
static void
daemon_setup(void)
{
	td_setup(0700, ARGS("-R", IN_MAX_ROWS, "-r", "2"));
}

/* A path of exactly len bytes: dir, a slash, then 'x's. */
static void
long_path(char *buf, size_t size, const char *dir, size_t len)
{
	size_t n = strlen(dir);

	ck_assert_uint_lt(len, size);
	ck_assert_uint_gt(len, n + 1);
	memcpy(buf, dir, n);
	buf[n] = '/';
	memset(buf + n + 1, 'x', len - n - 1);
	buf[len] = '\0';
}

/* td.dir/NAME in buf. */
static const char *
in_dir(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", td.dir, name);
	return buf;
}

/* Makes an empty regular file. */
static void
make_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);

	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	close(fd);
}

/* A Unix socket of type bound at path: its descriptor. */
static int
bind_socket(const char *path, int type)
{
	struct sockaddr_un sun;
	int fd;

	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert_uint_lt(strlen(path), sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	ck_assert_msg(bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0,
	    "bind %s: %s", path, strerror(errno));
	return fd;
}

/* ---- a. tags ----------------------------------------------------------- */

/* Strings that are not tags: -EINVAL, and *tag is not touched. */
START_TEST(test_tag_parse_bad)
{
	static const char *const bad[] = {
		"", "R", "Rdw", "Rdwnn", "Rd n", " Rdw", "Rdw ", "Rd\tn",
		"\x01" "dwn", "Rdw\x7f", "\xc3\xa9wn", "Rd\xffn",
		"0x", "0X", "0x123456789", "0x000000001", "0xg", "0x12g4",
		"0x1g", "0x-1", "0x+1", "0x 1", "0x1 ", "0xx1",
		"0x12345678 ",
	};
	uint32_t tag;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tag = SENTINEL_TAG;
		ck_assert_msg(rundown_tag_parse(bad[i], &tag) == -EINVAL,
		    "rundown_tag_parse(\"%s\") is not -EINVAL", bad[i]);
		ck_assert_msg(tag == SENTINEL_TAG,
		    "rundown_tag_parse(\"%s\") wrote %#x", bad[i], tag);
	}
	ck_assert_int_eq(rundown_tag_parse(NULL, &tag), -EINVAL);
	ck_assert_int_eq(rundown_tag_parse("Rdwn", NULL), -EINVAL);
	ck_assert_int_eq(rundown_tag_parse(NULL, NULL), -EINVAL);
	ck_assert_uint_eq(tag, SENTINEL_TAG);
}
END_TEST

/* The edges of what is a tag. */
START_TEST(test_tag_parse_good)
{
	static const struct {
		const char *s;
		uint32_t tag;
	} good[] = {
		{ "Rdwn", 0x6e776452u },
		{ "0x0", 0 },
		{ "0X1f", 0x1f },
		{ "0xFFFFFFFF", 0xffffffffu },
		{ "0x00000001", 1 },
		{ "0xaBcDeF01", 0xabcdef01u },
		{ "0x12", 0x12 },		/* four characters, read as hex */
		{ "!~!~", RUNDOWN_TAG('!', '~', '!', '~') },
		{ "0y12", RUNDOWN_TAG('0', 'y', '1', '2') },
		{ "00x1", RUNDOWN_TAG('0', '0', 'x', '1') },
	};
	uint32_t tag;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		tag = SENTINEL_TAG;
		ck_assert_msg(rundown_tag_parse(good[i].s, &tag) == 0,
		    "rundown_tag_parse(\"%s\") failed", good[i].s);
		ck_assert_msg(tag == good[i].tag, "\"%s\" parsed as %#x, not "
		    "%#x", good[i].s, tag, good[i].tag);
	}
}
END_TEST

/* Whatever the tag, its formatted form fits RUNDOWN_TAG_BUFSZ and parses
 * back to it. */
START_TEST(test_tag_format_roundtrip)
{
	static const uint32_t edge[] = {
		0, 1, 0xffffffffu, 0x6e776452u,
		RUNDOWN_TAG('0', 'x', '1', '2'), RUNDOWN_TAG('0', 'X', 'a', 'b'),
		RUNDOWN_TAG('0', 'x', 'z', 'z'), RUNDOWN_TAG('R', 'd', ' ', 'n'),
		RUNDOWN_TAG('R', 'd', 0x7f, 'n'), RUNDOWN_TAG('R', 'd', 0x80, 'n'),
		RUNDOWN_TAG('!', '~', '!', '~'), 0x20202020u, 0x7e7e7e7eu,
	};
	char buf[RUNDOWN_TAG_BUFSZ + 1];
	uint32_t tag, back, x = 12345;
	size_t i, len;

	for (i = 0; i < 20000; i++) {
		if (i < sizeof(edge) / sizeof(edge[0]))
			tag = edge[i];
		else {
			x = x * 1103515245u + 12345u;	/* any 32-bit value */
			tag = x;
			if (i % 2 == 0)			/* often characters */
				tag = (x & 0x3f3f3f3fu) + 0x21212121u;
		}
		memset(buf, '#', sizeof(buf));
		ck_assert_ptr_eq(rundown_tag_format(tag, buf), buf);
		ck_assert_msg(buf[RUNDOWN_TAG_BUFSZ] == '#',
		    "rundown_tag_format(%#x) wrote past RUNDOWN_TAG_BUFSZ", tag);
		len = strnlen(buf, RUNDOWN_TAG_BUFSZ);
		ck_assert_msg(len == 4 || len == 10, "rundown_tag_format(%#x) "
		    "gave %zu characters", tag, len);
		back = SENTINEL_TAG;
		ck_assert_msg(rundown_tag_parse(buf, &back) == 0 && back == tag,
		    "\"%s\" from %#x parses back as %#x", buf, tag, back);
	}
}
END_TEST

/* ---- b. paths ---------------------------------------------------------- */

/* Too small a buffer: -ENAMETOOLONG, and the buffer is left alone. */
START_TEST(test_socket_path)
{
	char buf[256], want[256], path[256];

	ck_assert_int_eq(rundown_socket_path(NULL, 64), -EINVAL);

	ck_assert_int_eq(setenv("RUNDOWN_SOCKET", "/a/b.sock", 1), 0);
	memset(buf, 'X', sizeof(buf));
	ck_assert_int_eq(rundown_socket_path(buf, 10), 0);
	ck_assert_str_eq(buf, "/a/b.sock");
	memset(buf, 'X', sizeof(buf));
	memset(want, 'X', sizeof(want));
	ck_assert_int_eq(rundown_socket_path(buf, 9), -ENAMETOOLONG);
	ck_assert_msg(memcmp(buf, want, sizeof(buf)) == 0,
	    "a failed rundown_socket_path() wrote to the buffer");
	ck_assert_int_eq(rundown_socket_path(buf, 1), -ENAMETOOLONG);
	ck_assert_int_eq(rundown_socket_path(buf, 0), -ENAMETOOLONG);
	ck_assert_msg(memcmp(buf, want, sizeof(buf)) == 0,
	    "a failed rundown_socket_path() wrote to the buffer");

	/* The limit is a socket address's, whatever the buffer. */
	long_path(path, sizeof(path), "/tmp", 107);
	ck_assert_int_eq(setenv("RUNDOWN_SOCKET", path, 1), 0);
	ck_assert_int_eq(rundown_socket_path(buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, path);
	long_path(path, sizeof(path), "/tmp", 108);
	ck_assert_int_eq(setenv("RUNDOWN_SOCKET", path, 1), 0);
	memset(buf, 'X', sizeof(buf));
	ck_assert_int_eq(rundown_socket_path(buf, sizeof(buf)), -ENAMETOOLONG);
	ck_assert_msg(memcmp(buf, want, sizeof(buf)) == 0,
	    "a failed rundown_socket_path() wrote to the buffer");

	/* Empty is unset. */
	ck_assert_int_eq(setenv("RUNDOWN_SOCKET", "", 1), 0);
	ck_assert_int_eq(rundown_socket_path(buf, sizeof(buf)), 0);
	if (geteuid() == 0)
		ck_assert_str_eq(buf, "/run/rundownd/rundownd.sock");
	ck_assert_int_eq(unsetenv("RUNDOWN_SOCKET"), 0);
}
END_TEST

/* rundown_connect()'s arguments: *conn is NULL after every failure. */
START_TEST(test_connect_args)
{
	rundown_conn_t *c = (rundown_conn_t *)&c;
	char path[256];

	ck_assert_int_eq(rundown_connect(NULL, NULL), -EINVAL);
	ck_assert_int_eq(rundown_connect("/nonexistent", NULL), -EINVAL);
	ck_assert_int_eq(rundown_connect("", &c), -EINVAL);
	ck_assert_ptr_null(c);

	long_path(path, sizeof(path), "/nonexistent-rundown", 108);
	c = (rundown_conn_t *)&c;
	ck_assert_int_eq(rundown_connect(path, &c), -ENAMETOOLONG);
	ck_assert_ptr_null(c);
	long_path(path, sizeof(path), "/nonexistent-rundown", 200);
	ck_assert_int_eq(rundown_connect(path, &c), -ENAMETOOLONG);
	/* One byte less fits: no such file, so no daemon. */
	long_path(path, sizeof(path), "/nonexistent-rundown", 107);
	c = (rundown_conn_t *)&c;
	ck_assert_int_eq(rundown_connect(path, &c), -ECONNREFUSED);
	ck_assert_ptr_null(c);

	/* NULL: the default path, here from the environment. */
	ck_assert_int_eq(setenv("RUNDOWN_SOCKET", in_dir(path, sizeof(path),
	    "none.sock"), 1), 0);
	ck_assert_int_eq(rundown_connect(NULL, &c), -ECONNREFUSED);
	long_path(path, sizeof(path), "/nonexistent-rundown", 108);
	ck_assert_int_eq(setenv("RUNDOWN_SOCKET", path, 1), 0);
	c = (rundown_conn_t *)&c;
	ck_assert_int_eq(rundown_connect(NULL, &c), -ENAMETOOLONG);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(unsetenv("RUNDOWN_SOCKET"), 0);

	/* A relative path is looked up as connect(2) does. */
	ck_assert_int_eq(rundown_connect("no-such-dir/rundownd.sock", &c),
	    -ECONNREFUSED);
}
END_TEST

/* What can be at a socket path instead of a daemon. */
START_TEST(test_connect_files)
{
	static const struct {
		const char *path;	/* below td.dir */
		int err;
	} cases[] = {
		{ "file", -ENOTSOCK },		/* no daemon can be there */
		{ "file/rundownd.sock", -ENOTDIR },
		{ "dir", -ENOTSOCK },
		{ "link-to-file", -ENOTSOCK },	/* followed, as connect does */
		{ "dangling", -ECONNREFUSED },	/* a link to nothing */
		{ "loop1", -ELOOP },
		{ "stale.sock", -ECONNREFUSED },	/* nobody listens */
		{ "none.sock", -ECONNREFUSED },	/* no file: no daemon yet */
		{ "nodir/rundownd.sock", -ECONNREFUSED }, /* nor a directory */
		{ "dgram.sock", -EPROTOTYPE },	/* not a stream socket */
	};
	char path[PATH_MAX], other[PATH_MAX];
	rundown_conn_t *c;
	rundown_cache_t *ref;
	size_t i;
	int dgram, r;

	make_file(in_dir(path, sizeof(path), "file"));
	ck_assert_int_eq(mkdir(in_dir(path, sizeof(path), "dir"), 0700), 0);
	ck_assert_int_eq(symlink(in_dir(other, sizeof(other), "file"),
	    in_dir(path, sizeof(path), "link-to-file")), 0);
	ck_assert_int_eq(symlink(in_dir(other, sizeof(other), "nothing"),
	    in_dir(path, sizeof(path), "dangling")), 0);
	ck_assert_int_eq(symlink(in_dir(other, sizeof(other), "loop2"),
	    in_dir(path, sizeof(path), "loop1")), 0);
	ck_assert_int_eq(symlink(in_dir(other, sizeof(other), "loop1"),
	    in_dir(path, sizeof(path), "loop2")), 0);
	close(bind_socket(in_dir(path, sizeof(path), "stale.sock"),
	    SOCK_STREAM));
	dgram = bind_socket(in_dir(path, sizeof(path), "dgram.sock"),
	    SOCK_DGRAM);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		in_dir(path, sizeof(path), cases[i].path);
		c = (rundown_conn_t *)&c;
		r = rundown_connect(path, &c);
		ck_assert_msg(r == cases[i].err, "rundown_connect(%s): %s, "
		    "not %s", cases[i].path, rundown_strerror(r),
		    rundown_strerror(cases[i].err));
		ck_assert_ptr_null(c);
		/* An attach goes through the same connect. */
		ref = (rundown_cache_t *)&ref;
		r = rundown_attach_at(path, RUNDOWN_TAG('P', 'a', 't', 'h'),
		    RUNDOWN_ATTACH_CREATE, &ref);
		ck_assert_msg(r == cases[i].err, "rundown_attach_at(%s): %s, "
		    "not %s", cases[i].path, rundown_strerror(r),
		    rundown_strerror(cases[i].err));
		ck_assert_ptr_null(ref);
	}
	close(dgram);
}
END_TEST

/* rundown_attach() and rundown_attach_at()'s arguments. */
START_TEST(test_attach_args)
{
	static const unsigned int bad_flags[] = {
		0x4, 0x7, 0x80000000u, ~0u,
		~(RUNDOWN_ATTACH_CREATE | RUNDOWN_ATTACH_REOPEN),
	};
	uint32_t tag = RUNDOWN_TAG('A', 'r', 'g', 's');
	rundown_cache_t *ref, *const mark = (rundown_cache_t *)&ref;
	char path[256];
	size_t i;

	ck_assert_int_eq(rundown_attach(tag, 0, NULL), -EINVAL);
	ck_assert_int_eq(rundown_attach_at(td.sock, tag, 0, NULL), -EINVAL);
	/* Invalid flags: refused before anything else, *ref untouched. */
	for (i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
		ref = mark;
		ck_assert_msg(rundown_attach(tag, bad_flags[i], &ref) ==
		    -EINVAL && ref == mark, "rundown_attach(flags %#x)",
		    bad_flags[i]);
		ck_assert_msg(rundown_attach_at(td.sock, tag, bad_flags[i],
		    &ref) == -EINVAL && ref == mark,
		    "rundown_attach_at(flags %#x)", bad_flags[i]);
	}

	ref = mark;
	ck_assert_int_eq(rundown_attach_at("", tag, 0, &ref), -EINVAL);
	ck_assert_ptr_null(ref);
	long_path(path, sizeof(path), "/nonexistent-rundown", 108);
	ref = mark;
	ck_assert_int_eq(rundown_attach_at(path, tag, 0, &ref), -ENAMETOOLONG);
	ck_assert_ptr_null(ref);
	ref = mark;
	ck_assert_int_eq(rundown_attach_at(td.sock, tag, 0, &ref),
	    -ECONNREFUSED);
	ck_assert_ptr_null(ref);

	/* rundown_attach(): the path of rundown_socket_path(). */
	ck_assert_int_eq(setenv("RUNDOWN_SOCKET", td.sock, 1), 0);
	ref = mark;
	ck_assert_int_eq(rundown_attach(tag, RUNDOWN_ATTACH_CREATE, &ref),
	    -ECONNREFUSED);
	ck_assert_ptr_null(ref);
	ck_assert_int_eq(setenv("RUNDOWN_SOCKET", path, 1), 0);
	ref = mark;
	ck_assert_int_eq(rundown_attach(tag, 0, &ref), -ENAMETOOLONG);
	ck_assert_ptr_null(ref);
	ck_assert_int_eq(unsetenv("RUNDOWN_SOCKET"), 0);
}
END_TEST

/* A NULL connection: -EINVAL from every control call. */
START_TEST(test_ctl_null_conn)
{
	uint32_t tag = RUNDOWN_TAG('N', 'u', 'l', 'l');
	struct timespec ts = { 1, 0 }, bad = { -1, 0 };
	struct rundown_block_info info, blocks[2];
	struct rundown_holder h[2];
	size_t n = 77;

	ck_assert_int_eq(rundown_ctl_create(NULL, tag, 0), -EINVAL);
	ck_assert_int_eq(rundown_ctl_wait(NULL, tag, NULL), -EINVAL);
	ck_assert_int_eq(rundown_ctl_wait(NULL, tag, &ts), -EINVAL);
	ck_assert_int_eq(rundown_ctl_wait(NULL, tag, &bad), -EINVAL);
	ck_assert_int_eq(rundown_ctl_completed(NULL, tag), -EINVAL);
	ck_assert_int_eq(rundown_ctl_reinit(NULL, tag), -EINVAL);
	ck_assert_int_eq(rundown_ctl_free(NULL, tag), -EINVAL);
	ck_assert_int_eq(rundown_ctl_status(NULL, tag, &info, h, 2, &n),
	    -EINVAL);
	ck_assert_int_eq(rundown_ctl_list(NULL, blocks, 2, &n), -EINVAL);
	ck_assert_uint_eq(n, 77);
	rundown_disconnect(NULL);
}
END_TEST

/* rundown_detach() of what is not an attachment: -EINVAL, and the
 * block is left as it was. */
START_TEST(test_detach_args)
{
	struct rundown_status st;
	rundown_cache_t *ref;
	void *buf;
	size_t size = rundown_cache_size();

	ck_assert_int_eq(rundown_detach(NULL), -EINVAL);

	ck_assert_ptr_nonnull(ref = rundown_cache_alloc(0x12345678));
	ck_assert(rundown_cache_acquire(ref));
	ck_assert_int_eq(rundown_detach(ref), -EINVAL);
	ck_assert_int_eq(rundown_cache_query(ref, &st), 0);
	ck_assert_int_eq(st.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(st.outstanding, 1);
	rundown_cache_release(ref);
	ck_assert_int_eq(rundown_cache_free(ref), 0);

	ck_assert_int_eq(posix_memalign(&buf, 64, size), 0);
	ck_assert_int_eq(rundown_cache_init(buf, size), 0);
	ck_assert_int_eq(rundown_detach(buf), -EINVAL);
	ck_assert_int_eq(rundown_cache_query(buf, &st), 0);
	ck_assert_int_eq(st.state, RUNDOWN_OPEN);
	/* Never initialized: no magic. */
	memset(buf, 0, size);
	ck_assert_int_eq(rundown_detach(buf), -EINVAL);
	free(buf);
}
END_TEST

/* Counts and sizes of the plain and cache-aware families: 0, too many,
 * too small, each changing nothing. */
START_TEST(test_counts)
{
	rundown_ref_t ref = RUNDOWN_REF_INIT;
	struct rundown_status st;
	size_t size = rundown_cache_size();
	unsigned char *buf, *copy;
	rundown_cache_t *rc;
	void *mem;

	ck_assert(rundown_acquire_n(&ref, 2));
	ck_assert(rundown_acquire_n(&ref, 0));
	ck_assert_int_eq(rundown_release_n(&ref, 3), -ERANGE);
	ck_assert_int_eq(rundown_release_n(&ref, UINT32_MAX), -ERANGE);
	ck_assert_int_eq(rundown_release_n(&ref, 0), 0);
	ck_assert_int_eq(rundown_query(&ref, &st), 0);
	ck_assert_int_eq(st.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(st.outstanding, 2);
	ck_assert_int_eq(rundown_release_n(&ref, 2), 0);

	ck_assert_ptr_nonnull(rc = rundown_cache_alloc(0));
	ck_assert(rundown_cache_acquire_n(rc, 0));
	ck_assert(rundown_cache_acquire_n(rc, 5));
	rundown_cache_release_n(rc, 0);
	ck_assert_int_eq(rundown_cache_query(rc, &st), 0);
	ck_assert_uint_eq(st.outstanding, 5);
	rundown_cache_release_n(rc, 5);
	ck_assert_int_eq(rundown_cache_free(rc), 0);

	/* A buffer too small: -ENOSPC, nothing written. */
	ck_assert_int_eq(posix_memalign(&mem, 64, size + 64), 0);
	buf = mem;
	ck_assert_ptr_nonnull(copy = malloc(size + 64));
	memset(buf, 0x5a, size + 64);
	memcpy(copy, buf, size + 64);
	ck_assert_int_eq(rundown_cache_init((rundown_cache_t *)buf, size - 1),
	    -ENOSPC);
	ck_assert_int_eq(rundown_cache_init((rundown_cache_t *)buf, 0),
	    -ENOSPC);
	ck_assert_int_eq(rundown_cache_init(NULL, size), -EINVAL);
	ck_assert_msg(memcmp(buf, copy, size + 64) == 0,
	    "a refused rundown_cache_init() wrote to the buffer");
	ck_assert_int_eq(rundown_cache_init((rundown_cache_t *)buf, size), 0);
	ck_assert_int_eq(rundown_cache_free((rundown_cache_t *)buf), -EPERM);
	free(copy);
	free(buf);
}
END_TEST

/* ---- c. what the daemon is sent ---------------------------------------- */

/* Polls the block until it runs down (a wait has reached the daemon). */
static void
await_running_down(uint32_t tag)
{
	struct timespec start = td_now();
	struct rundown_block_info info;

	for (;;) {
		td_status(tag, &info, NULL, 0);
		if (info.state == RUNDOWN_RUNNING_DOWN)
			return;
		ck_assert_msg(td_elapsed_ms(&start) < IN_DEADLINE_MS,
		    "the block is %s, not running down, after %d ms",
		    rundown_state_name(info.state), IN_DEADLINE_MS);
		td_pause();
	}
}

/* Asserts that the block is open with nothing held: nothing started. */
static void
ck_untouched(uint32_t tag, const char *what)
{
	struct rundown_block_info info;

	td_status(tag, &info, NULL, 0);
	ck_assert_msg(info.state == RUNDOWN_OPEN && info.generation == 0,
	    "%s changed the block: %s, generation %u", what,
	    rundown_state_name(info.state), info.generation);
}

/* Malformed timeouts: -EINVAL, and no run-down starts. */
START_TEST(test_ctl_bad_timeouts)
{
	const struct timespec bad[] = {
		{ -1, 0 }, { 0, -1 }, { 0, 1000000000L }, { 1, LONG_MAX },
		{ -1, 999999999L }, { (time_t)INT64_MIN, 0 }, { 0, LONG_MIN },
	};
	uint32_t tag = RUNDOWN_TAG('T', 'm', 'o', 'x');
	rundown_cache_t *ref;
	char what[96];
	size_t i;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	ck_assert_int_eq(rundown_attach_at(td.sock, tag, 0, &ref), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(what, sizeof(what), "a wait with timeout {%lld, %ld}",
		    (long long)bad[i].tv_sec, bad[i].tv_nsec);
		ck_assert_msg(rundown_ctl_wait(td.conn, tag, &bad[i]) ==
		    -EINVAL, "rundown_ctl_wait: %s is not -EINVAL", what);
		ck_untouched(tag, what);
		ck_assert_msg(rundown_cache_wait_timeout(ref, &bad[i]) ==
		    -EINVAL, "rundown_cache_wait_timeout (attached): %s is not"
		    " -EINVAL", what);
		ck_untouched(tag, what);
	}
	ck_assert_int_eq(rundown_detach(ref), 0);
}
END_TEST

/* What rundown_ctl_wait() is given: a wait and whether it returned. */
struct waiter {
	pthread_t thread;
	rundown_conn_t *conn;	/* or NULL: through ref */
	rundown_cache_t *ref;
	uint32_t tag;
	struct timespec timeout;
	int r;
};

static void *
waiter_main(void *arg)
{
	struct waiter *w = arg;

	if (w->conn != NULL)
		w->r = rundown_ctl_wait(w->conn, w->tag, &w->timeout);
	else
		w->r = rundown_cache_wait_timeout(w->ref, &w->timeout);
	return NULL;
}

/* A timeout of ages is cut to about 49.7 days (rundown_shared(3)), not
 * wrapped to a short one: the wait lasts until the holder releases. */
static void
huge_wait(uint32_t tag, rundown_cache_t *holder, struct waiter *w,
    const char *what)
{
	ck_assert(rundown_cache_acquire(holder));
	ck_assert_int_eq(pthread_create(&w->thread, NULL, waiter_main, w), 0);
	await_running_down(tag);
	rundown_cache_release(holder);
	ck_assert_int_eq(pthread_join(w->thread, NULL), 0);
	ck_assert_msg(w->r == 0, "%s with a timeout of %lld s: %s, not the "
	    "drain", what, (long long)w->timeout.tv_sec,
	    rundown_strerror(w->r));
	ck_assert_int_eq(rundown_ctl_reinit(td.conn, tag), 0);
}

START_TEST(test_ctl_huge_timeout)
{
	uint32_t tag = RUNDOWN_TAG('H', 'u', 'g', 'e');
	struct waiter w;
	rundown_cache_t *holder, *ref;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	ck_assert_int_eq(rundown_attach_at(td.sock, tag, 0, &holder), 0);
	ck_assert_int_eq(rundown_attach_at(td.sock, tag, 0, &ref), 0);

	/* 2^62 s: times 1000 is 0 modulo 2^64. */
	memset(&w, 0, sizeof(w));
	w.conn = td_connect();
	w.tag = tag;
	w.timeout.tv_sec = (time_t)1 << 62;
	huge_wait(tag, holder, &w, "rundown_ctl_wait");
	w.timeout.tv_sec = (time_t)INT64_MAX;
	w.timeout.tv_nsec = 999999999L;
	huge_wait(tag, holder, &w, "rundown_ctl_wait");
	rundown_disconnect(w.conn);

	/* An attached descriptor's wait. */
	memset(&w, 0, sizeof(w));
	w.ref = ref;
	w.tag = tag;
	w.timeout.tv_sec = (time_t)1 << 62;
	huge_wait(tag, holder, &w, "rundown_cache_wait_timeout (attached)");

	ck_assert_int_eq(rundown_detach(ref), 0);
	ck_assert_int_eq(rundown_detach(holder), 0);
}
END_TEST

/* Out pointers and buffers of the status and list calls. */
START_TEST(test_ctl_buffers)
{
	uint32_t tag = RUNDOWN_TAG('B', 'u', 'f', 's');
	struct rundown_block_info info, blocks[2];
	struct rundown_holder h[2];
	rundown_cache_t *ref;
	size_t n;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	ck_assert_int_eq(rundown_attach_at(td.sock, tag, 0, &ref), 0);

	n = 77;
	ck_assert_int_eq(rundown_ctl_status(td.conn, tag, NULL, h, 2, &n),
	    -EINVAL);
	ck_assert_int_eq(rundown_ctl_status(td.conn, tag, &info, NULL, 1, &n),
	    -EINVAL);
	ck_assert_int_eq(rundown_ctl_list(td.conn, NULL, 1, &n), -EINVAL);
	ck_assert_uint_eq(n, 77);
	/* What is documented as allowed: no holders with max 0, no n. */
	ck_assert_int_eq(rundown_ctl_status(td.conn, tag, &info, NULL, 0, &n),
	    0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(rundown_ctl_status(td.conn, tag, &info, h, 2, NULL),
	    0);
	ck_assert_int_eq(h[0].pid, getpid());
	ck_assert_int_eq(rundown_ctl_list(td.conn, NULL, 0, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(rundown_ctl_list(td.conn, blocks, 2, NULL), 0);
	ck_assert_uint_eq(blocks[0].tag, tag);
	/* The connection is still good after the refusals. */
	ck_assert_int_eq(rundown_ctl_list(td.conn, blocks, 2, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(rundown_detach(ref), 0);
}
END_TEST

/* Rows above the daemon's -R: -EINVAL from the daemon, nothing made;
 * rundownctl says which count (status 1: the daemon refused). */
START_TEST(test_ctl_rows)
{
	uint32_t tag = RUNDOWN_TAG('R', 'o', 'w', 's');
	struct rundown_block_info info;
	size_t n;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag,
	    (uint32_t)atoi(IN_MAX_ROWS) + 1), -EINVAL);
	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, UINT32_MAX),
	    -EINVAL);
	ck_assert_int_eq(rundown_ctl_status(td.conn, tag, &info, NULL, 0, &n),
	    -ENOENT);
	ck_assert_int_eq(rundown_ctl_create(td.conn, tag,
	    (uint32_t)atoi(IN_MAX_ROWS)), 0);
	ck_assert_int_eq(rundown_ctl_status(td.conn, tag, &info, NULL, 0, &n),
	    0);
	ck_assert_uint_eq(info.rows, (uint32_t)atoi(IN_MAX_ROWS));
	ck_assert_int_eq(rundown_ctl_free(td.conn, tag), 0);
}
END_TEST

/* A relative path works from the directory it is relative to. */
START_TEST(test_connect_relative)
{
	rundown_conn_t *c;
	char cwd[PATH_MAX];
	size_t n;

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(td.dir), 0);
	ck_assert_int_eq(rundown_connect("run/rundownd.sock", &c), 0);
	ck_assert_int_eq(chdir(cwd), 0);
	ck_assert_int_eq(rundown_ctl_list(c, NULL, 0, &n), 0);
	rundown_disconnect(c);
}
END_TEST

/* ---- d. rundownctl ----------------------------------------------------- */

/* What one run of rundownctl did. */
struct ctl_run {
	int status;		/* exit status; -1 if killed */
	char out[4096];
	char err[4096];
	char line[512];		/* its arguments, for messages */
};

/* Reads fd to its end, keeping what fits in buf. */
static void
read_all(int fd, char *buf, size_t size)
{
	char scratch[512];
	size_t len = 0;
	ssize_t n;

	for (;;) {
		if (len + 1 < size)
			n = read(fd, buf + len, size - 1 - len);
		else
			n = read(fd, scratch, sizeof(scratch));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len + 1 < size)
			len += (size_t)n;
	}
	buf[len] = '\0';
}

/*
 * Runs prog (rundownctl, or rundownd) ARGS... to its end, with
 * RUNDOWN_SOCKET set to env (or, if NULL, to a path in the test's
 * directory where no daemon listens, so that the environment of the test
 * run cannot change the outcome).
 */
static void
prog_run(const char *prog, const char *env, const char *const *args,
    struct ctl_run *r)
{
	char sock[PATH_MAX];
	const char *argv[32];
	int out[2], err[2], nul, st;
	size_t n = 0, len = 0;
	pid_t pid, w;

	ck_assert_msg(access(prog, X_OK) == 0, "%s: %s", prog, strerror(errno));
	if (env == NULL)
		env = in_dir(sock, sizeof(sock), "none.sock");
	argv[n++] = prog;
	r->line[0] = '\0';
	while (*args != NULL && n < 31) {
		if (len < sizeof(r->line))
			len += (size_t)snprintf(r->line + len,
			    sizeof(r->line) - len, "%s'%s'", n > 1 ? " " : "",
			    *args);
		argv[n++] = *args++;
	}
	argv[n] = NULL;
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		nul = open("/dev/null", O_RDONLY);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(out[1], 1) < 0 ||
		    dup2(err[1], 2) < 0 || setenv("RUNDOWN_SOCKET", env, 1) != 0)
			_exit(120);
		execv(prog, (char *const *)argv);
		_exit(121);
	}
	close(out[1]);
	close(err[1]);
	/* Each is small (a message, a usage): neither can fill its pipe while
	 * the other is read. */
	read_all(err[0], r->err, sizeof(r->err));
	read_all(out[0], r->out, sizeof(r->out));
	close(out[0]);
	close(err[0]);
	do
		w = waitpid(pid, &st, 0);
	while (w < 0 && errno == EINTR);
	ck_assert_int_eq(w, pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* prog_run() of rundownctl. */
static void
ctl_run(const char *env, const char *const *args, struct ctl_run *r)
{
	prog_run(td.rundownctl, env, args, r);
}

/*
 * Asserts that rundownctl ARGS... (RUNDOWN_SOCKET env, as ctl_run) exits
 * with want, prints nothing on its standard output, and says on its
 * standard error, after "rundownctl: ", something that contains each of
 * the NULL-terminated needles (the bad value, what was wrong).
 */
static void
ck_ctl_env(const char *env, const char *const *args, int want,
    const char *const *needles)
{
	struct ctl_run r;

	ctl_run(env, args, &r);
	ck_assert_msg(r.status == want, "rundownctl %s: status %d, not %d; "
	    "stderr: %s", r.line, r.status, want, r.err);
	ck_assert_msg(strncmp(r.err, "rundownctl: ", 12) == 0,
	    "rundownctl %s: the message does not name the program: \"%s\"",
	    r.line, r.err);
	for (; *needles != NULL; needles++)
		ck_assert_msg(strstr(r.err + 12, *needles) != NULL,
		    "rundownctl %s: the message does not say \"%s\": \"%s\"",
		    r.line, *needles, r.err);
	ck_assert_msg(r.out[0] == '\0', "rundownctl %s: wrote \"%s\" on its "
	    "standard output", r.line, r.out);
}

#define ck_ctl(args, want, needles) ck_ctl_env(NULL, (args), (want), (needles))

/* Tags that check_daemon's test_ctl_status (daemon_ops.c) does not try. */
START_TEST(test_ctl_bad_tags)
{
	ck_ctl(ARGS("status", ""), 64, ARGS("bad tag"));
	ck_ctl(ARGS("status", "Rd n"), 64, ARGS("bad tag", ": Rd n"));
	ck_ctl(ARGS("status", "Rd\x01n"), 64, ARGS("bad tag", "Rd\x01n"));
	ck_ctl(ARGS("wait", "\xc3\xa9wn"), 64, ARGS("bad tag", "\xc3\xa9wn"));
	ck_ctl(ARGS("create", "0x1g"), 64, ARGS("bad tag", "0x1g"));
	ck_ctl(ARGS("free", "0x-1"), 64, ARGS("bad tag", "0x-1"));
	ck_ctl(ARGS("completed", "0x000000001"), 64,
	    ARGS("bad tag", "0x000000001"));
	ck_ctl(ARGS("reinit"), 64, ARGS("reinit", "a TAG is needed"));
	ck_ctl(ARGS("run", "Rdwnn", "true"), 64, ARGS("bad tag", "Rdwnn"));
	/* A tag that begins with '-' is an option unless after "--". */
	ck_ctl(ARGS("status", "-abc"), 64, ARGS("unknown option -a"));
}
END_TEST

START_TEST(test_ctl_bad_rows)
{
	static const char *const bad[] = {
		"0", "-1", "1x", "", " 1", "+1", "1025", "4294967295",
		"4294967296", "99999999999999999999", "0x10", "1.5",
	};
	char needle[64];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* The real maximum, the protocol's: no daemon allows more
		 * (rundownd's -R is 1024 at most). */
		snprintf(needle, sizeof(needle), "--rows must be 1 to 1024: %s",
		    bad[i]);
		ck_ctl(ARGS("create", "Rows", "--rows", bad[i]), 64,
		    ARGS("create: ", needle));
	}
	ck_ctl(ARGS("create", "Rows", "--rows=0"), 64,
	    ARGS("--rows must be 1 to 1024: 0"));
	ck_ctl(ARGS("create", "Rows", "--rows"), 64,
	    ARGS("--rows needs an argument"));
	/* --rows belongs to create alone. */
	ck_ctl(ARGS("status", "Rows", "--rows", "2"), 64,
	    ARGS("unknown option --rows"));
}
END_TEST

START_TEST(test_ctl_bad_timeout)
{
	static const char *const bad[] = {
		"-1", "abc", "", ".", "1.5s", "1e3", "0x10", " 1", "+1",
		"1000000001", "99999999999999999999", "1..5", "-0",
	};
	char needle[96];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(needle, sizeof(needle), "--timeout must be seconds "
		    "(such as 5 or 0.5): %s", bad[i]);
		ck_ctl(ARGS("wait", "Tmo", "--timeout", bad[i]), 64,
		    ARGS("wait: ", needle));
	}
	ck_ctl(ARGS("wait", "Tmo", "--timeout"), 64,
	    ARGS("--timeout needs an argument"));
	ck_ctl(ARGS("wait", "Tmo", "--timeout="), 64,
	    ARGS("--timeout must be seconds (such as 5 or 0.5): ; try "));
}
END_TEST

START_TEST(test_ctl_bad_socket)
{
	char path[256], rel[64], file[PATH_MAX], msg[300];

	ck_ctl(ARGS("-S", "", "list"), 64, ARGS("-S needs a path"));
	ck_ctl(ARGS("--socket=", "list"), 64, ARGS("-S needs a path"));
	ck_ctl(ARGS("-S"), 64, ARGS("-S needs an argument"));

	/* Relative, as rundownd refuses to listen on: 64 before anything
	 * is tried, from -S or from the environment. */
	snprintf(rel, sizeof(rel), "run/rundownd.sock");
	snprintf(msg, sizeof(msg), "must be absolute and under 108 bytes: %s",
	    rel);
	ck_ctl(ARGS("-S", rel, "list"), 64, ARGS(msg));
	ck_ctl(ARGS("-S", "rundownd.sock", "status", "Rdwn"), 64,
	    ARGS("must be absolute", ": rundownd.sock"));
	ck_ctl_env(rel, ARGS("list"), 64, ARGS(msg));

	/* 108 bytes do not fit a socket address; 107 do (no daemon there:
	 * 69, naming the path). */
	long_path(path, sizeof(path), td.dir, 108);
	snprintf(msg, sizeof(msg), "must be absolute and under 108 bytes: %s",
	    path);
	ck_ctl(ARGS("-S", path, "list"), 64, ARGS(msg));
	ck_ctl_env(path, ARGS("wait", "Rdwn"), 64, ARGS(msg));
	long_path(path, sizeof(path), td.dir, 107);
	ck_ctl(ARGS("-S", path, "list"), 69,
	    ARGS("cannot reach rundownd at ", path));

	/* Something at the path, not a daemon. */
	make_file(in_dir(file, sizeof(file), "file"));
	ck_ctl(ARGS("-S", file, "list"), 69,
	    ARGS("cannot reach rundownd at ", file));
	in_dir(file, sizeof(file), "file/rundownd.sock");
	ck_ctl(ARGS("-S", file, "status", "Rdwn"), 69,
	    ARGS(file, strerror(ENOTDIR)));
}
END_TEST

START_TEST(test_ctl_bad_options)
{
	ck_ctl(ARGS("-Z", "list"), 64, ARGS("unknown option -Z"));
	ck_ctl(ARGS("--frob", "list"), 64, ARGS("unknown option --frob"));
	ck_ctl(ARGS("list", "--frob"), 64, ARGS("list: unknown option --frob"));
	ck_ctl(ARGS("list", "-x"), 64, ARGS("list: unknown option -x"));
	ck_ctl(ARGS("status", "Rdwn", "--json=yes"), 64,
	    ARGS("status: ", "--json"));
	ck_ctl(ARGS("wait", "Rdwn", "--rows", "2"), 64,
	    ARGS("wait: unknown option --rows"));
	ck_ctl(ARGS("status", "Rdwn", "extra"), 64,
	    ARGS("status: unexpected argument: extra"));
	ck_ctl(ARGS("list", "extra"), 64, ARGS("list: unexpected argument: "
	    "extra"));
	ck_ctl(ARGS("free", "Rdwn", "Rdwn"), 64,
	    ARGS("free: unexpected argument: Rdwn"));
	ck_ctl(ARGS("run", "Rdwn"), 64, ARGS("run: a COMMAND is needed"));
	ck_ctl(ARGS("run", "Rdwn", "--"), 64, ARGS("a COMMAND is needed"));
	ck_ctl(ARGS("frob"), 64, ARGS("unknown command: frob"));
	ck_ctl(ARGS(""), 64, ARGS("unknown command: "));
}
END_TEST

/*
 * A usage error is one line: what is wrong, then where the help is (the
 * command's, once the command is known), not the help itself; -h prints
 * the help, on the standard output.
 */
START_TEST(test_ctl_usage_line)
{
	static const struct {
		const char *args[4];
		const char *said;	/* the message, up to the hint */
		const char *help;	/* the hint's command, or "" */
	} cases[] = {
		{ { "-Z", "list" }, "unknown option -Z", "" },
		{ { "frob" }, "unknown command: frob", "" },
		{ { "-S" }, "-S needs an argument", "" },
		{ { "list", "--frob" }, "list: unknown option --frob",
		    "list " },
		{ { "wait", "Rdwn", "extra" },
		    "wait: unexpected argument: extra", "wait " },
		{ { "create", "Rdwn", "--rows", "2000" },
		    "create: --rows must be 1 to 1024: 2000", "create " },
		{ { "status" }, "status: a TAG is needed", "status " },
		{ { "run", "Rdwn" }, "run: a COMMAND is needed", "run " },
	};
	char want[256];
	struct ctl_run r;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ctl_run(NULL, cases[i].args, &r);
		snprintf(want, sizeof(want), "rundownctl: %s; try 'rundownctl "
		    "%s-h'\n", cases[i].said, cases[i].help);
		ck_assert_msg(r.status == 64, "rundownctl %s: status %d",
		    r.line, r.status);
		ck_assert_msg(strcmp(r.err, want) == 0, "rundownctl %s: "
		    "stderr is \"%s\", not \"%s\"", r.line, r.err, want);
		ck_assert_msg(r.out[0] == '\0', "rundownctl %s: wrote \"%s\" "
		    "on its standard output", r.line, r.out);
	}

	/* rundownd says a usage error the same way (it printed its whole
	 * usage and exited 2, saying nothing of what was wrong). */
	static const struct {
		const char *args[3];
		const char *said;
	} dcases[] = {
		{ { "extra" }, "no operand is taken: extra" },
		{ { "-x" }, "unknown option -x" },
		{ { "--bogus" }, "unknown option --bogus" },
		{ { "-r" }, "-r needs an argument" },
		{ { "-r", "0" }, "rows must be 1 to 1024: 0" },
		{ { "-r", "9", "-R" }, "-R needs an argument" },
		{ { "-S", "rel.sock" }, "the socket path must be absolute" },
	};

	for (i = 0; i < sizeof(dcases) / sizeof(dcases[0]); i++) {
		prog_run(td.rundownd, NULL, dcases[i].args, &r);
		ck_assert_msg(r.status == 64, "rundownd %s: status %d",
		    r.line, r.status);
		ck_assert_msg(strncmp(r.err, "rundownd: ", 10) == 0 &&
		    strstr(r.err, dcases[i].said) != NULL &&
		    strstr(r.err, "; try 'rundownd -h'\n") != NULL &&
		    strchr(r.err, '\n') == r.err + strlen(r.err) - 1,
		    "rundownd %s: stderr is \"%s\"", r.line, r.err);
		ck_assert_msg(r.out[0] == '\0', "rundownd %s: wrote \"%s\"",
		    r.line, r.out);
	}

	ctl_run(NULL, ARGS("-h"), &r);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.err, "");
	ck_assert_msg(strncmp(r.out, "usage: rundownctl ", 18) == 0 &&
	    strstr(r.out, "\n  wait TAG [--timeout SECONDS]") != NULL,
	    "rundownctl -h: %s", r.out);
	ctl_run(NULL, ARGS("wait", "-h"), &r);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "usage: rundownctl wait TAG [--timeout "
	    "SECONDS]\n");
}
END_TEST

/*
 * No daemon at the path, for each reason there can be: rundownctl exits
 * 69 and says which, so that an operator knows whether to start the
 * daemon, fix the path or clear what sits there.
 */
START_TEST(test_ctl_unreachable)
{
	static const struct {
		const char *path;	/* below td.dir */
		const char *said;
	} cases[] = {
		{ "nodir/rundownd.sock", "no such directory " },
		{ "none.sock", "no socket there; rundownd does not run on this "
		    "path" },
		{ "stale.sock", "nobody listens on the socket (the daemon that "
		    "made it has exited)" },
		{ "file", "not a socket" },
		{ "dir", "not a socket" },
	};
	char path[PATH_MAX], want[PATH_MAX + 128];
	size_t i;

	make_file(in_dir(path, sizeof(path), "file"));
	ck_assert_int_eq(mkdir(in_dir(path, sizeof(path), "dir"), 0700), 0);
	close(bind_socket(in_dir(path, sizeof(path), "stale.sock"),
	    SOCK_STREAM));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		in_dir(path, sizeof(path), cases[i].path);
		snprintf(want, sizeof(want), "cannot reach rundownd at %s: %s",
		    path, cases[i].said);
		ck_ctl(ARGS("-S", path, "list"), 69, ARGS(want));
		/* run attaches through the library's own connect. */
		ck_ctl(ARGS("-S", path, "run", "Rdwn", "true"), 69, ARGS(want));
	}
	/* The directory the message names is the missing one. */
	in_dir(path, sizeof(path), "nodir");
	ck_ctl(ARGS("-S", in_dir(want, sizeof(want), "nodir/rundownd.sock"),
	    "wait", "Rdwn"), 69, ARGS("no such directory ", path,
	    "; rundownd makes it when it starts"));
}
END_TEST

/* No command at all. */
START_TEST(test_ctl_no_command)
{
	const char *const none[] = { NULL };

	ck_ctl(none, 64, ARGS("a command is needed"));
}
END_TEST

/* --rows above the daemon's -R: the daemon refuses (1), and the message
 * names the count and the limits; above any daemon's, rundownctl does
 * (64) without asking. */
START_TEST(test_ctl_rows_refused)
{
	char n[16];

	snprintf(n, sizeof(n), "%d", atoi(IN_MAX_ROWS) + 1);
	ck_ctl_env(td.sock, ARGS("create", "Rows", "--rows", n), 1,
	    ARGS("create Rows: ", "--rows 5 ", "more than this daemon allows "
	    "(its -R, at most 1024)"));
	ck_ctl_env(td.sock, ARGS("create", "Rows", "--rows", "1025"), 64,
	    ARGS("--rows must be 1 to 1024: 1025"));
	ck_ctl_env(td.sock, ARGS("status", "Rows"), 1,
	    ARGS("status Rows: no such block"));
}
END_TEST

/* ---- the suite ---------------------------------------------------------- */

static Suite *
input_suite(void)
{
	Suite *s = suite_create("input");
	TCase *tc;

	tc = td_case(s, "tags", NULL, 30);
	tcase_add_test(tc, test_tag_parse_bad);
	tcase_add_test(tc, test_tag_parse_good);
	tcase_add_test(tc, test_tag_format_roundtrip);

	tc = td_case(s, "library", dir_setup, 30);
	tcase_add_test(tc, test_socket_path);
	tcase_add_test(tc, test_connect_args);
	tcase_add_test(tc, test_connect_files);
	tcase_add_test(tc, test_attach_args);
	tcase_add_test(tc, test_ctl_null_conn);
	tcase_add_test(tc, test_detach_args);
	tcase_add_test(tc, test_counts);

	tc = td_case(s, "daemon", daemon_setup, 30);
	tcase_add_test(tc, test_ctl_bad_timeouts);
	tcase_add_test(tc, test_ctl_huge_timeout);
	tcase_add_test(tc, test_ctl_buffers);
	tcase_add_test(tc, test_ctl_rows);
	tcase_add_test(tc, test_connect_relative);
	tcase_add_test(tc, test_ctl_rows_refused);

	tc = td_case(s, "rundownctl", dir_setup, 30);
	tcase_add_test(tc, test_ctl_bad_tags);
	tcase_add_test(tc, test_ctl_bad_rows);
	tcase_add_test(tc, test_ctl_bad_timeout);
	tcase_add_test(tc, test_ctl_bad_socket);
	tcase_add_test(tc, test_ctl_bad_options);
	tcase_add_test(tc, test_ctl_no_command);
	tcase_add_test(tc, test_ctl_usage_line);
	tcase_add_test(tc, test_ctl_unreachable);

	return s;
}

int
main(void)
{
	return td_main("rundown-input", 0700, IN_DEADLINE_MS, input_suite);
}
