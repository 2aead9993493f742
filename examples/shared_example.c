/*
 * shared_example.c: processes reading a shared structure under run-down
 * protection from rundownd, and swapping it while it is run down.  The
 * main job (scripts/main-job.sh) drives it together with rundownctl.
 *
 *   shared_example socket
 *       prints the socket path the library and rundownctl use by default
 *   shared_example init FILE
 *       writes version 1 of the structure to FILE
 *   shared_example reader TAG FILE INDEX
 *       attaches to the block TAG and loops: acquire, read the structure
 *       and verify its checksum, release; a refused acquire is counted and
 *       backed off from.  On SIGTERM prints what it saw and exits 1 if it
 *       ever saw a bad checksum, the structure in the middle of a swap, or
 *       an older version than await promised.
 *   shared_example await FILE VERSION N
 *       from now on every read must see VERSION or later (run it once the
 *       reinit that published VERSION has returned); waits until readers
 *       0 to N-1 have each read it
 *   shared_example swap TAG FILE VERSION
 *       checks with the daemon that TAG is run down, marks the structure
 *       "being written", writes VERSION, waits until every running reader
 *       has been refused since the mark, and clears it
 *
 * The structure lives in FILE, which every process maps (MAP_SHARED): a
 * version, a payload and a checksum over both, plus a board where each
 * reader publishes its counts so that await and swap can see progress.
 * Protection is what keeps readers and the swap apart; the mark is there
 * to catch a reader that got in anyway, and the swap holds it until every
 * reader has tried and been refused, so that such a reader had its chance.
 */
#define _POSIX_C_SOURCE 200809L	/* ftruncate, sigaction: built alone */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <rundown/rundown.h>

#define DATA_MAGIC 0x61746144u		/* "Data" in memory */
#define PAYLOAD 4096
#define MAX_READERS 16
#define MAX_VERSION 7
#define LIMIT_MS 30000			/* await and swap give up after this */

/* What a reader publishes, alone on its cache line. */
struct board {
	uint64_t	 reads[MAX_VERSION + 1];	/* atomic, by version */
	uint64_t	 refused;			/* atomic */
	int32_t		 pid;
	uint32_t	 running;	/* atomic: 1 from attach to detach */
} __attribute__((aligned(64)));

/* The shared structure, in FILE. */
struct data {
	uint32_t	 magic;
	uint32_t	 writing;	/* atomic: a swap is writing (the mark) */
	uint32_t	 version;
	uint32_t	 floor;		/* atomic: the oldest version a read may see */
	uint64_t	 checksum;	/* FNV-1a of version and payload */
	unsigned char	 payload[PAYLOAD];
	struct board	 board[MAX_READERS];
};

static volatile sig_atomic_t stop;

/* FNV-1a over the version and the payload. */
static uint64_t
checksum(uint32_t version, const unsigned char *p)
{
	uint64_t h = 14695981039346656037u;
	size_t i;

	for (i = 0; i < sizeof version; i++) {
		h ^= (version >> (8 * i)) & 0xff;
		h *= 1099511628211u;
	}
	for (i = 0; i < PAYLOAD; i++) {
		h ^= p[i];
		h *= 1099511628211u;
	}
	return h;
}

/* Maps FILE (created and sized if create): exits on failure. */
static struct data *
data_map(const char *path, bool create)
{
	struct data *d;
	int fd;

	fd = open(path, O_RDWR | (create ? O_CREAT | O_TRUNC : 0), 0600);
	if (fd < 0 || (create && ftruncate(fd, sizeof(*d)) != 0)) {
		fprintf(stderr, "shared_example: %s: %s\n", path,
		    strerror(errno));
		exit(1);
	}
	d = mmap(NULL, sizeof(*d), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (d == MAP_FAILED) {
		fprintf(stderr, "shared_example: mmap %s: %s\n", path,
		    strerror(errno));
		exit(1);
	}
	if (!create && d->magic != DATA_MAGIC) {
		fprintf(stderr, "shared_example: %s: not initialized\n", path);
		exit(1);
	}
	return d;
}

/* Writes version v: a payload that differs per version, and its sum. */
static void
data_write(struct data *d, uint32_t v)
{
	size_t i;

	for (i = 0; i < PAYLOAD; i++)
		d->payload[i] = (unsigned char)(i * 31 + v * 101);
	d->version = v;
	d->checksum = checksum(v, d->payload);
}

/* Sleeps ms milliseconds (back-off and pacing, not synchronisation). */
static void
pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !stop)
		;
}

/* Parses a number in [min, max], or exits with usage status 2. */
static unsigned
number(const char *s, unsigned min, unsigned max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "shared_example: %s: must be %u to %u\n", s,
		    min, max);
		exit(2);
	}
	return (unsigned)v;
}

/* Parses a tag, or exits with usage status 2. */
static uint32_t
tag_arg(const char *s)
{
	uint32_t tag;

	if (rundown_tag_parse(s, &tag) != 0) {
		fprintf(stderr, "shared_example: bad tag: %s\n", s);
		exit(2);
	}
	return tag;
}

/* SIGTERM: the reader finishes the read in hand, then reports. */
static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* The reader loop; returns the exit status. */
static int
reader(uint32_t tag, const char *path, unsigned index)
{
	struct data *d = data_map(path, false);
	struct board *me = &d->board[index];
	unsigned long reads[MAX_VERSION + 1] = { 0 }, refused = 0;
	unsigned long bad_sum = 0, mid_swap = 0, stale = 0, bad_version = 0;
	unsigned char copy[PAYLOAD];
	rundown_cache_t *ref;
	struct sigaction sa;
	uint64_t sum;
	uint32_t v, floor;
	bool writing;
	int r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	if ((r = rundown_attach(tag, 0, &ref)) != 0) {
		fprintf(stderr, "reader %u: attach: %s\n", index,
		    rundown_strerror(r));
		return 1;
	}
	me->pid = (int32_t)getpid();
	__atomic_store_n(&me->running, 1, __ATOMIC_RELEASE);

	while (!stop) {
		/* Read before the acquire: a floor raised after the reinit
		 * that published a version binds every acquire after it. */
		floor = __atomic_load_n(&d->floor, __ATOMIC_ACQUIRE);
		if (!rundown_cache_acquire(ref)) {
			/* Run down: the structure may be changing.  Back off. */
			refused++;
			__atomic_store_n(&me->refused, refused,
			    __ATOMIC_RELEASE);
			pause_ms(1);
			continue;
		}
		/* Under protection: nobody may be writing the structure. */
		writing = __atomic_load_n(&d->writing, __ATOMIC_RELAXED) != 0;
		v = d->version;
		memcpy(copy, d->payload, sizeof(copy));
		sum = d->checksum;
		bad_sum += checksum(v, copy) != sum;
		rundown_cache_release(ref);

		mid_swap += writing;
		if (v == 0 || v > MAX_VERSION) {
			bad_version++;
			continue;
		}
		stale += v < floor;
		reads[v]++;
		__atomic_store_n(&me->reads[v], reads[v], __ATOMIC_RELEASE);
	}

	__atomic_store_n(&me->running, 0, __ATOMIC_RELEASE);
	if ((r = rundown_detach(ref)) != 0)
		fprintf(stderr, "reader %u: detach: %s\n", index,
		    rundown_strerror(r));
	printf("reader %u (pid %ld): reads of version 1: %lu, version 2: %lu; "
	    "refused acquires: %lu; checksum failures: %lu; reads during a "
	    "swap: %lu; stale versions: %lu\n", index, (long)getpid(),
	    reads[1], reads[2], refused, bad_sum, mid_swap,
	    stale + bad_version);
	return bad_sum == 0 && mid_swap == 0 && stale == 0 &&
	    bad_version == 0 && r == 0 ? 0 : 1;
}

/* Raises the floor to version v, then waits until readers 0..n-1 have
 * each read it. */
static int
await(const char *path, unsigned v, unsigned n)
{
	struct data *d = data_map(path, false);
	unsigned i, done;
	long ms;

	/* The caller ran this after the reinit that published v returned,
	 * so every acquire that follows this store must see v. */
	__atomic_store_n(&d->floor, v, __ATOMIC_RELEASE);
	/* Polls what the readers publish; the pause paces the polls. */
	for (ms = 0; ms < LIMIT_MS; ms++) {
		for (i = done = 0; i < n; i++)
			done += __atomic_load_n(&d->board[i].reads[v],
			    __ATOMIC_ACQUIRE) != 0;
		if (done == n)
			return 0;
		pause_ms(1);
	}
	fprintf(stderr, "shared_example: only %u of %u readers read version "
	    "%u in %d ms\n", done, n, v, LIMIT_MS);
	return 1;
}

/* Swaps the structure to version v while TAG is run down. */
static int
swap(uint32_t tag, const char *path, unsigned v)
{
	struct data *d = data_map(path, false);
	struct rundown_block_info info;
	rundown_conn_t *conn;
	uint64_t before[MAX_READERS];
	unsigned i, running, refused;
	long ms;
	int r;

	/* Trust, but check: the wait has returned, so nothing is held and
	 * every acquire is refused until reinit. */
	if ((r = rundown_connect(NULL, &conn)) != 0 ||
	    (r = rundown_ctl_status(conn, tag, &info, NULL, 0, NULL)) != 0) {
		fprintf(stderr, "swap: status: %s\n", rundown_strerror(r));
		return 1;
	}
	rundown_disconnect(conn);
	if (info.state != RUNDOWN_DRAINED || info.outstanding != 0) {
		fprintf(stderr, "swap: the block is %s with %llu outstanding; "
		    "refusing to write\n", rundown_state_name(info.state),
		    (unsigned long long)info.outstanding);
		return 1;
	}

	__atomic_store_n(&d->writing, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < MAX_READERS; i++)
		before[i] = __atomic_load_n(&d->board[i].refused,
		    __ATOMIC_ACQUIRE);
	data_write(d, v);
	/* Hold the mark until every running reader has been refused since
	 * it was set: each one tried while the structure was in flux. */
	for (ms = 0; ms < LIMIT_MS; ms++) {
		for (i = running = refused = 0; i < MAX_READERS; i++) {
			if (!__atomic_load_n(&d->board[i].running,
			    __ATOMIC_ACQUIRE))
				continue;
			running++;
			refused += __atomic_load_n(&d->board[i].refused,
			    __ATOMIC_ACQUIRE) != before[i];
		}
		if (refused == running)
			break;
		pause_ms(1);
	}
	__atomic_store_n(&d->writing, 0, __ATOMIC_SEQ_CST);
	if (ms == LIMIT_MS) {
		fprintf(stderr, "swap: only %u of %u readers were refused in "
		    "%d ms\n", refused, running, LIMIT_MS);
		return 1;
	}
	printf("swap: version %u written; %u running readers tried and were "
	    "refused meanwhile\n", v, running);
	return 0;
}

/* Prints the usage and exits with status 2. */
static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr, "usage: shared_example socket\n"
	    "       shared_example init FILE\n"
	    "       shared_example reader TAG FILE INDEX\n"
	    "       shared_example await FILE VERSION N\n"
	    "       shared_example swap TAG FILE VERSION\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	char path[108];
	struct data *d;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && strcmp(argv[1], "socket") == 0) {
		if (rundown_socket_path(path, sizeof(path)) != 0)
			return 1;
		printf("%s\n", path);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "init") == 0) {
		d = data_map(argv[2], true);
		data_write(d, 1);
		d->magic = DATA_MAGIC;
		return 0;
	}
	if (argc == 5 && strcmp(argv[1], "reader") == 0)
		return reader(tag_arg(argv[2]), argv[3],
		    number(argv[4], 0, MAX_READERS - 1));
	if (argc == 5 && strcmp(argv[1], "await") == 0)
		return await(argv[2], number(argv[3], 1, MAX_VERSION),
		    number(argv[4], 1, MAX_READERS));
	if (argc == 5 && strcmp(argv[1], "swap") == 0)
		return swap(tag_arg(argv[2]), argv[3],
		    number(argv[4], 2, MAX_VERSION));
	usage();
}
