/*
 * rundownd.c: the run-down daemon.  Options, start-up in order, signals
 * routed through the event loop, and the loop itself.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <sysexits.h>
#include <stdarg.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "adopt.h"
#include "conf.h"
#include "control.h"
#include "fencer.h"
#include "listener.h"
#include "log.h"
#include "notify.h"
#include "reaper.h"
#include "registry.h"
#include "rundownd.h"
#include "server.h"
#include "watcher.h"

#define DEFAULT_ROWS 64u
#define DEFAULT_MAX_BLOCKS 256u
#define DEFAULT_MAX_CONNS 1024u
#define DEFAULT_MAX_USER_CONNS 256u
#define DEFAULT_PROC_ROWS 1u	/* rows of one block per process */
#define DEFAULT_USER_ROWS 1024u	/* rows of one user in all blocks */
#define DEFAULT_USER_OUT_MIB 16u	/* replies queued for one user */
#define DEFAULT_USER_OUT_FDS 64u	/* descriptors in them */
#define DEFAULT_TIMEOUT 10u	/* seconds for the rest of a begun frame */
#define DEFAULT_FENCE_RATE 100u	/* fence walks a second of one user */
#define MAX_FENCE_RATE 1000000u
#define DEFAULT_MAX_CONN_WAITS 64u
#define DEFAULT_MAX_USER_WAITS 1024u
#define MAX_WAITS 65536u
#define MAX_CONNS 65536u
#define MAX_TIMEOUT 3600u

static struct config cfg = {
	.default_rows = DEFAULT_ROWS,
	.max_rows = PROTO_MAX_ENTRIES,
	.max_blocks = DEFAULT_MAX_BLOCKS,
	.max_conns = DEFAULT_MAX_CONNS,
	.max_user_conns = DEFAULT_MAX_USER_CONNS,
	.timeout = DEFAULT_TIMEOUT,
	.max_conn_waits = DEFAULT_MAX_CONN_WAITS,
	.max_user_waits = DEFAULT_MAX_USER_WAITS,
	.max_proc_rows = DEFAULT_PROC_ROWS,
	.max_uid_rows = 0,		/* half of each block's rows */
	.max_user_blocks = 0,		/* a quarter of -B */
	.max_user_rows = DEFAULT_USER_ROWS,
	.max_user_out = (size_t)DEFAULT_USER_OUT_MIB << 20,
	.max_user_out_fds = DEFAULT_USER_OUT_FDS,
	.fence_rate = DEFAULT_FENCE_RATE,
};
static struct event_base *base;

static const struct option longopts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: rundownd [-dhVv] [-S socket-path] [-r rows] [-R max-rows]\n"
	    "                [-B max-blocks] [-b max-user-blocks] [-C max-conns]\n"
	    "                [-U max-user-conns] [-P proc-rows] [-Q user-rows]\n"
	    "                [-k max-user-rows] [-M max-user-queued]\n"
	    "                [-F max-user-fds] [-f fence-rate] [-t timeout]\n"
	    "                [-w max-conn-waits] [-W max-user-waits]\n"
	    "                [-u user]... [-g group]...\n"
	    "  -d             stay in the foreground and log to stderr\n"
	    "  -v             log debug messages too\n"
	    "  -S path        control socket (default: $RUNDOWN_SOCKET, or the\n"
	    "                 per-user default; see rundownd(8))\n"
	    "  -r rows        rows of a block created without a count (%u)\n"
	    "  -R max-rows    most rows a block may have (%u, at most %u)\n"
	    "  -B max-blocks  most blocks at once (%u, at most %u)\n"
	    "  -b max-user-blocks\n"
	    "                 most blocks one user owns (a quarter of -B)\n"
	    "  -C max-conns   most connections at once (%u, at most %u)\n"
	    "  -U max-user-conns\n"
	    "                 most connections of one user (%u)\n"
	    "  -P proc-rows   most rows of a block one process may hold (%u)\n"
	    "  -Q user-rows   most rows of a block one user other than its\n"
	    "                 owner may hold (half the block's rows)\n"
	    "  -k max-user-rows\n"
	    "                 most rows one user holds in all blocks (%u)\n"
	    "  -M max-user-queued\n"
	    "                 MiB of replies one user's connections may\n"
	    "                 leave unread (%u)\n"
	    "  -F max-user-fds\n"
	    "                 descriptors in them (%u)\n"
	    "  -f fence-rate  most run-down fences (walks of every CPU) a\n"
	    "                 second for one user; its starts in between share\n"
	    "                 the next; root is not held back (%u)\n"
	    "  -t timeout     seconds to finish a begun request, or to take\n"
	    "                 the last replies before a close (%u, at most %u)\n"
	    "  -w max-conn-waits\n"
	    "                 most pending waits of one connection (%u)\n"
	    "  -W max-user-waits\n"
	    "                 most pending waits of one user (%u)\n"
	    "  -u user        also let this user connect (repeatable)\n"
	    "  -g group       also let members of this group connect\n"
	    "  -h, --help     print this help and exit\n"
	    "  -V, --version  print the version and exit\n",
	    DEFAULT_ROWS, PROTO_MAX_ENTRIES, PROTO_MAX_ENTRIES,
	    DEFAULT_MAX_BLOCKS, PROTO_MAX_ENTRIES, DEFAULT_MAX_CONNS,
	    MAX_CONNS, DEFAULT_MAX_USER_CONNS, DEFAULT_PROC_ROWS,
	    DEFAULT_USER_ROWS, DEFAULT_USER_OUT_MIB, DEFAULT_USER_OUT_FDS,
	    DEFAULT_FENCE_RATE, DEFAULT_TIMEOUT, MAX_TIMEOUT, DEFAULT_MAX_CONN_WAITS,
	    DEFAULT_MAX_USER_WAITS);
}

/*
 * A usage error, as rundownctl(1) says one: a line naming what is wrong,
 * and where the help is, rather than the whole usage burying it; exits
 * EX_USAGE.
 */
static void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("rundownd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("; try 'rundownd -h'\n", stderr);
	exit(EX_USAGE);
}

/* A count in [1, max], or exits with usage status. */
static uint32_t
parse_count(const char *s, uint32_t max, const char *what)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' || v == 0 ||
	    v > max)
		usage_error("%s must be 1 to %u: %s", what, max, s);
	return (uint32_t)v;
}

/* Appends to a list of ids, or exits. */
static void *
grow(void *v, size_t *n, size_t size)
{
	if ((v = realloc(v, (*n + 1) * size)) == NULL) {
		fprintf(stderr, "rundownd: out of memory\n");
		exit(1);
	}
	(*n)++;
	return v;
}

/* A user or group given by number, or exits with usage status. */
static unsigned int
parse_id(const char *name, const char *what)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(name, &end, 10);
	if (*name == '\0' || *end != '\0' || errno != 0 || v >= UINT_MAX)
		usage_error("no such %s: %s", what, name);
	return (unsigned int)v;
}

/* -u: lets a user (name or number) connect too. */
static void
allow_user(const char *name)
{
	struct passwd *pw = getpwnam(name);

	cfg.allow_uids = grow(cfg.allow_uids, &cfg.nallow_uids, sizeof(uid_t));
	cfg.allow_uids[cfg.nallow_uids - 1] = pw != NULL ? pw->pw_uid :
	    (uid_t)parse_id(name, "user");
}

/* -g: lets a group's members (name or number) connect too. */
static void
allow_group(const char *name)
{
	struct group *gr = getgrnam(name);

	cfg.allow_gids = grow(cfg.allow_gids, &cfg.nallow_gids, sizeof(gid_t));
	cfg.allow_gids[cfg.nallow_gids - 1] = gr != NULL ? gr->gr_gid :
	    (gid_t)parse_id(name, "group");
}

/* TERM, INT: leave the loop; the blocks stay in shared memory. */
static void
on_exit_signal(int sig, short events, void *arg)
{
	(void)events;
	(void)arg;
	log_info("signal %d: exiting; blocks stay for the next daemon", sig);
	notify_send("STOPPING=1\nSTATUS=exiting on signal %d", sig);
	event_base_loopbreak(base);
}

static void
on_hup(int sig, short events, void *arg)
{
	(void)sig;
	(void)events;
	(void)arg;
	log_reopen();
}

/*
 * Every connection, block and watched process costs a descriptor; the
 * usual soft limit of 1024 would stop the daemon short of -C.  Raise it
 * as far as the hard limit allows; what is still short shows as EMFILE,
 * which the accept loop survives by pausing (server.c).
 */
static void
raise_fd_limit(void)
{
	const rlim_t most = 1 << 20;	/* the kernel's usual nr_open */
	struct rlimit rl;
	rlim_t want;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	want = rl.rlim_max < most ? rl.rlim_max : most;
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		log_warn("raising the descriptor limit");
}

/*
 * What daemon(3) does, except that the parent exits only once the child
 * has written its own pid into the lock file and set up its loop again:
 * after "rundownd && ..." the lock file names the daemon that serves, and
 * a failure of the child's up to then still reaches the exit status and
 * the terminal.
 */
static void
detach(void)
{
	ssize_t n;
	pid_t pid;
	char c = 0;
	int p[2], nul;

	log_check_syslog();
	if (pipe2(p, O_CLOEXEC) != 0)
		fatal("pipe");
	if ((pid = fork()) < 0)
		fatal("fork");
	if (pid > 0) {
		/* The end of the pipe without a byte: the child failed, and
		 * said why on stderr. */
		close(p[1]);
		do
			n = read(p[0], &c, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 ? 0 : 1);
	}
	close(p[0]);
	if (setsid() < 0)
		fatal("setsid");
	if (chdir("/") != 0)
		fatal("chdir /");
	listener_write_pid();
	/* The loop's kernel objects (epoll) do not survive fork(). */
	if (event_reinit(base) != 0)
		fatalx("cannot set up the event loop after fork");
	if ((nul = open("/dev/null", O_RDWR)) < 0 || dup2(nul, 0) < 0 ||
	    dup2(nul, 1) < 0 || dup2(nul, 2) < 0)
		fatal("/dev/null");
	if (nul > 2)
		close(nul);
	log_init(0, cfg.verbose);
	if (write(p[1], &c, 1) != 1)
		fatal("telling the parent");
	close(p[1]);
}

/* The options that take a count: where it goes, its most, and its name
 * in a usage error. */
static const struct {
	int ch;
	uint32_t *to;
	uint32_t max;
	const char *what;
} count_options[] = {
	{ 'B', &cfg.max_blocks, PROTO_MAX_ENTRIES, "max-blocks" },
	{ 'b', &cfg.max_user_blocks, PROTO_MAX_ENTRIES, "max-user-blocks" },
	{ 'C', &cfg.max_conns, MAX_CONNS, "max-conns" },
	{ 'F', &cfg.max_user_out_fds, MAX_CONNS, "max-user-fds" },
	{ 'f', &cfg.fence_rate, MAX_FENCE_RATE, "fence-rate" },
	{ 'k', &cfg.max_user_rows, PROTO_MAX_ENTRIES * PROTO_MAX_ENTRIES,
	    "max-user-rows" },
	{ 'P', &cfg.max_proc_rows, PROTO_MAX_ENTRIES, "proc-rows" },
	{ 'Q', &cfg.max_uid_rows, PROTO_MAX_ENTRIES, "user-rows" },
	{ 'R', &cfg.max_rows, PROTO_MAX_ENTRIES, "max-rows" },
	{ 'r', &cfg.default_rows, PROTO_MAX_ENTRIES, "rows" },
	{ 't', &cfg.timeout, MAX_TIMEOUT, "timeout" },
	{ 'U', &cfg.max_user_conns, MAX_CONNS, "max-user-conns" },
	{ 'W', &cfg.max_user_waits, MAX_WAITS, "max-user-waits" },
	{ 'w', &cfg.max_conn_waits, MAX_WAITS, "max-conn-waits" },
};

/* One option other than a count's (getopt_long() gave ch); exits on a
 * usage error, and after -h or -V. */
static void
parse_option(int ch, char **argv)
{
	switch (ch) {
	case 'd':
		cfg.foreground = 1;
		break;
	case 'g':
		allow_group(optarg);
		break;
	case 'h':
		usage(stdout);
		exit(0);
	case 'M':
		cfg.max_user_out = (size_t)parse_count(optarg, 4096,
		    "max-user-queued") << 20;
		break;
	case 'S':
		cfg.socket_path = optarg;
		break;
	case 'u':
		allow_user(optarg);
		break;
	case 'V':
		printf("rundownd %s\n", rundown_version_string());
		exit(0);
	case 'v':
		cfg.verbose = 1;
		break;
	case ':':
		usage_error("%s needs an argument", argv[optind - 1]);
	default:
		if (optopt != 0)
			usage_error("unknown option -%c", optopt);
		usage_error("unknown option %s", argv[optind - 1]);
	}
}

/*
 * The command line into cfg, the limits made consistent (-U no more than
 * -C, -b a quarter of -B unless given); exits on a usage error, and after
 * -h or -V.
 */
static void
parse_options(int argc, char **argv)
{
	size_t i;
	int ch;

	opterr = 0;	/* usage_error() says what is wrong */
	while ((ch = getopt_long(argc, argv,
	    ":B:b:C:dF:f:g:hk:M:P:Q:R:r:S:t:U:u:VvW:w:", longopts, NULL)) !=
	    -1) {
		for (i = 0; i < sizeof(count_options) /
		    sizeof(count_options[0]); i++)
			if (count_options[i].ch == ch)
				break;
		if (i == sizeof(count_options) / sizeof(count_options[0]))
			parse_option(ch, argv);
		else
			*count_options[i].to = parse_count(optarg,
			    count_options[i].max, count_options[i].what);
	}
	if (optind != argc)
		usage_error("no operand is taken: %s", argv[optind]);
	if (cfg.default_rows > cfg.max_rows)
		usage_error("-r %u exceeds -R %u", cfg.default_rows,
		    cfg.max_rows);
	if (cfg.max_user_conns > cfg.max_conns)
		cfg.max_user_conns = cfg.max_conns;
	if (cfg.max_user_blocks == 0)
		cfg.max_user_blocks = (cfg.max_blocks + 3) / 4;
}

/*
 * The socket to listen on, into cfg.socket_path: the one a service
 * manager passed (which -S, if given, must name), else -S, else the
 * default path.  The passed socket's descriptor, or -1.
 */
static int
pick_socket(void)
{
	static char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	static char inherited[sizeof(path)];
	int fd;

	/* A socket the service manager passed is the socket: the blocks are
	 * named after its path, which -S, if given, must be. */
	if ((fd = listener_inherited(inherited, sizeof(inherited))) >= 0) {
		if (cfg.socket_path != NULL &&
		    strcmp(cfg.socket_path, inherited) != 0)
			fatalx("-S %s is not the socket the service manager "
			    "passed, %s", cfg.socket_path, inherited);
		cfg.socket_path = inherited;
	}
	if (cfg.socket_path == NULL) {
		if (rundown_socket_path(path, sizeof(path)) != 0)
			usage_error("the default socket path is too long; "
			    "give one with -S");
		cfg.socket_path = path;
	}
	if (cfg.socket_path[0] != '/' ||
	    strlen(cfg.socket_path) >= sizeof(path))
		usage_error("the socket path must be absolute and under %zu "
		    "bytes: %s", sizeof(path), cfg.socket_path);
	return fd;
}

/* The event loop, on a precise clock, with every signal the daemon
 * handles routed through it; exits if it cannot be made. */
static void
make_loop(struct event **ev_term, struct event **ev_int, struct event **ev_hup)
{
	struct event_config *ecfg;

	/* A precise clock: a timer fires when due, not up to a tick (4 ms)
	 * early, and each turn's cached time tells it apart (server.c). */
	if ((ecfg = event_config_new()) == NULL ||
	    event_config_set_flag(ecfg, EVENT_BASE_FLAG_PRECISE_TIMER) != 0 ||
	    (base = event_base_new_with_config(ecfg)) == NULL)
		fatalx("cannot create the event loop");
	event_config_free(ecfg);
	*ev_term = evsignal_new(base, SIGTERM, on_exit_signal, NULL);
	*ev_int = evsignal_new(base, SIGINT, on_exit_signal, NULL);
	*ev_hup = evsignal_new(base, SIGHUP, on_hup, NULL);
	if (*ev_term == NULL || *ev_int == NULL || *ev_hup == NULL ||
	    event_add(*ev_term, NULL) != 0 || event_add(*ev_int, NULL) != 0 ||
	    event_add(*ev_hup, NULL) != 0)
		fatalx("cannot route signals through the event loop");
}

/* Runs the event loop until a signal breaks it. */
static void
run_loop(void)
{
	/* Polling, not sleeping, while a fence just asked for walks
	 * (fencer.h). */
	for (;;) {
		int r;

		r = event_base_loop(base, fencer_spinning() ? EVLOOP_NONBLOCK :
		    EVLOOP_ONCE);

		if (r < 0)
			fatalx("event loop failed");
		if (r == 1 || event_base_got_break(base))
			break;
	}
}

int
main(int argc, char **argv)
{
	struct event *ev_term, *ev_int, *ev_hup;
	int fd, activated;

	parse_options(argc, argv);
	log_init(1, cfg.verbose);
	fd = pick_socket();

	/* Everything that can fail at start-up happens before the daemon
	 * detaches, so it goes to stderr and the exit status, and once the
	 * parent returns the socket listens: "rundownd && rundownctl" works. */
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	activated = fd >= 0;
	fd = listener_open(&cfg, fd);
	make_loop(&ev_term, &ev_int, &ev_hup);

	reaper_init(base, registry_holder_exited, NULL);
	watcher_init(base);
	registry_init(&cfg, base);
	control_init(&cfg);
	adopt_blocks(&cfg);
	server_start(&cfg, base, fd, control_dispatch, control_closed, NULL);
	if (!cfg.foreground)
		detach();
	log_info("listening on %s (%s%zu blocks adopted)", cfg.socket_path,
	    activated ? "from the service manager; " : "", registry_count());
	/* Ready: the socket listens and the blocks are adopted. */
	notify_send("READY=1\nSTATUS=listening on %s, %zu blocks adopted",
	    cfg.socket_path, registry_count());
	run_loop();

	server_stop();
	listener_close();
	registry_stop();
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	return 0;
}
