/*
 * rundown_example.c: swapping a shared configuration under run-down
 * protection, with a cache-aware block.
 *
 * Reader threads loop: acquire protection, read the current configuration,
 * release.  The owner waits until the readers have made enough reads, then
 * runs the block down: new acquires are refused and the wait returns once
 * every reader that got in has left.  Nobody can be looking at the old
 * configuration now, so the owner frees it, publishes a new one,
 * re-initializes the block and lets the refused readers in again.
 *
 * Every configuration carries a magic number that is poisoned just before
 * it is freed, and a generation with a value derived from it; a reader that
 * ever saw poisoned or torn data would count a violation (and under
 * AddressSanitizer the read of freed memory itself would stop the program).
 *
 * Built with -DRUNDOWN_INLINE, the readers' acquire and release run inline
 * in this program (librundown-client(3), Inline fast path); nothing else
 * changes.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <rundown/rundown.h>

#define READERS 3
#define ROUNDS 4
#define READS_PER_ROUND 200000	/* reads the owner waits for per round */
#define REPORT_EVERY 1024	/* reads a reader makes between reports */

#define CONFIG_LIVE 0x4c495645u		/* "EVIL" backwards: in use */
#define CONFIG_POISON 0xdeadbeefu	/* written just before free() */
#define TAG_READ RUNDOWN_TAG('R', 'e', 'a', 'd')	/* the WDK's 'daeR' */

struct config {
	/* free() may reuse the first words of a block for its own lists, so
	 * the fields a reader checks come after them. */
	void		*reserved[2];
	uint32_t	 magic;
	uint32_t	 generation;
	uint64_t	 value;		/* generation * 1000003 */
};

/* What the owner and the readers share. */
static rundown_cache_t *guard;		/* protects `current` */
static struct config *current;		/* atomic pointer */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t progress = PTHREAD_COND_INITIALIZER; /* to owner */
static pthread_cond_t reopened = PTHREAD_COND_INITIALIZER; /* to readers */
static unsigned long reported;		/* reads reported, under lock */
static unsigned opened = 1;		/* times opened, under lock */
static bool stopping;			/* under lock */

/* Per-generation results, added by each reader as it exits. */
static unsigned long reads[ROUNDS + 2];
static unsigned long refusals;
static unsigned long violations;

/* Allocates the configuration of a generation. */
static struct config *
config_new(uint32_t generation)
{
	struct config *c;

	if ((c = calloc(1, sizeof *c)) == NULL) {
		perror("calloc");
		exit(1);
	}
	c->magic = CONFIG_LIVE;
	c->generation = generation;
	c->value = (uint64_t)generation * 1000003u;
	return c;
}

/* Poisons a configuration and frees it. */
static void
config_free(struct config *c)
{
	c->magic = CONFIG_POISON;
	c->generation = UINT32_MAX;
	free(c);
}

/* Blocks a refused reader until the owner re-opens the block (or stops). */
static bool
reader_wait_reopen(unsigned seen)
{
	bool go_on;

	pthread_mutex_lock(&lock);
	while (opened == seen && !stopping)
		pthread_cond_wait(&reopened, &lock);
	go_on = !stopping;
	pthread_mutex_unlock(&lock);
	return go_on;
}

/* A reader: acquire, read, release, again; waits out each run-down. */
static void *
reader_main(void *arg)
{
	unsigned long my_reads[ROUNDS + 2] = { 0 }, my_refusals = 0, bad = 0;
	unsigned long batch = 0;
	struct config *c;
	unsigned seen, i;

	(void)arg;
	for (;;) {
		/* The opening we try to get into; read before the acquire so
		 * that a refusal always waits for a later one. */
		pthread_mutex_lock(&lock);
		seen = opened;
		pthread_mutex_unlock(&lock);
		while (rundown_cache_acquire(guard)) {
			c = __atomic_load_n(&current, __ATOMIC_ACQUIRE);
			if (c->magic != CONFIG_LIVE ||
			    c->value != (uint64_t)c->generation * 1000003u ||
			    c->generation > ROUNDS + 1)
				bad++;
			else
				my_reads[c->generation]++;
			rundown_cache_release(guard);

			if (++batch == REPORT_EVERY) {
				pthread_mutex_lock(&lock);
				reported += batch;
				if (reported >= READS_PER_ROUND)
					pthread_cond_signal(&progress);
				pthread_mutex_unlock(&lock);
				batch = 0;
			}
		}
		my_refusals++;
		if (!reader_wait_reopen(seen))
			break;
	}

	pthread_mutex_lock(&lock);
	for (i = 0; i < ROUNDS + 2; i++)
		reads[i] += my_reads[i];
	refusals += my_refusals;
	violations += bad;
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* The owner: waits until the readers have read enough of this round. */
static unsigned long
owner_wait_reads(void)
{
	unsigned long n;

	pthread_mutex_lock(&lock);
	while (reported < READS_PER_ROUND)
		pthread_cond_wait(&progress, &lock);
	n = reported;
	reported = 0;
	pthread_mutex_unlock(&lock);
	return n;
}

/* The owner: runs the block down and swaps in the next generation. */
static void
owner_swap(uint32_t next)
{
	struct config *old;
	int error;

	if ((error = rundown_cache_wait(guard)) != 0) {
		fprintf(stderr, "rundown_cache_wait: %s\n",
		    rundown_strerror(error));
		exit(1);
	}
	if (rundown_cache_acquire(guard)) {
		fprintf(stderr, "acquire succeeded after run-down\n");
		exit(1);
	}
	old = current;
	__atomic_store_n(&current, config_new(next), __ATOMIC_RELAXED);
	config_free(old);
	printf("  drained: acquires now refused; generation %u freed, "
	    "%u published\n", (unsigned)next - 1, (unsigned)next);

	/* Completed, then re-initialize: the reset publishes `current`
	 * (a release) to every reader whose acquire succeeds after it. */
	if ((error = rundown_cache_completed(guard)) != 0 ||
	    (error = rundown_cache_reinit(guard)) != 0) {
		fprintf(stderr, "reinit: %s\n", rundown_strerror(error));
		exit(1);
	}
	pthread_mutex_lock(&lock);
	opened++;
	pthread_cond_broadcast(&reopened);
	pthread_mutex_unlock(&lock);
}

int
main(void)
{
	pthread_t readers[READERS];
	unsigned long n;
	unsigned i;
	uint32_t round;
	int error;

	if ((guard = rundown_cache_alloc(TAG_READ)) == NULL) {
		perror("rundown_cache_alloc");
		return 1;
	}
	current = config_new(1);
	printf("rundown_example: librundown %s, %d readers, one cache-aware "
	    "block (%zu bytes)\n", rundown_version_string(), READERS,
	    rundown_cache_size());
	for (i = 0; i < READERS; i++) {
		if (pthread_create(&readers[i], NULL, reader_main, NULL) != 0) {
			perror("pthread_create");
			return 1;
		}
	}

	for (round = 1; round <= ROUNDS; round++) {
		n = owner_wait_reads();
		printf("round %u: readers made %lu reads; starting run-down\n",
		    (unsigned)round, n);
		owner_swap(round + 1);
	}

	/* Stop: a last run-down, then the readers leave instead of waiting. */
	owner_wait_reads();
	if ((error = rundown_cache_wait(guard)) != 0) {
		fprintf(stderr, "rundown_cache_wait: %s\n",
		    rundown_strerror(error));
		return 1;
	}
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_broadcast(&reopened);
	pthread_mutex_unlock(&lock);
	for (i = 0; i < READERS; i++)
		pthread_join(readers[i], NULL);
	printf("stopped: final run-down done, readers joined\n");
	config_free(current);
	rundown_cache_free(guard);

	printf("reads per generation:");
	for (i = 1; i <= ROUNDS + 1; i++)
		printf(" %lu", reads[i]);
	printf("\nrefused acquires: %lu; reads of freed or torn data: %lu\n",
	    refusals, violations);
	/* Each reader is refused at least once: by the final run-down. */
	if (violations != 0 || refusals < READERS) {
		printf("FAILED\n");
		return 1;
	}
	printf("OK\n");
	return 0;
}
