/*
 * wdm_example.c: the configuration swap of rundown_example.c, written the
 * way a Windows driver writes it, with the WDK's names from <rundown/wdm.h>.
 *
 * A plain EX_RUNDOWN_REF guards the "device" as a whole: each worker holds
 * it for its lifetime, and unload waits for the workers to leave.  A
 * cache-aware reference guards the configuration, acquired around each
 * read, so readers on different CPUs never share a cache line.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include <rundown/wdm.h>

#define WORKERS 2
#define ROUNDS 3
#define READS_PER_ROUND 100000

/* 'daeR' in WDK sources; the macro keeps its order, without the
 * multi-character constant that GCC warns of.  It shows as "Read". */
#define CONFIG_TAG RUNDOWN_WDM_TAG('d', 'a', 'e', 'R')

#define CONFIG_LIVE 0x4556494cu
#define CONFIG_POISON 0xdeadbeefu

typedef struct _CONFIG {
	PVOID Reserved[2];		/* free() may reuse the first words */
	ULONG Magic;
	ULONG Generation;
} CONFIG, *PCONFIG;

typedef struct _DEVICE_EXTENSION {
	EX_RUNDOWN_REF UnloadRef;	/* held by each worker while it runs */
	PEX_RUNDOWN_REF_CACHE_AWARE ConfigRef;	/* held around each read */
	PCONFIG Config;
	BOOLEAN Stopping;		/* atomic */
	ULONG Reads;			/* atomic */
	ULONG Refused;			/* atomic */
	ULONG Violations;		/* atomic */
} DEVICE_EXTENSION, *PDEVICE_EXTENSION;

/* Allocates a live configuration of a generation. */
static PCONFIG
AllocateConfig(ULONG Generation)
{
	PCONFIG Config = calloc(1, sizeof(CONFIG));

	if (Config == NULL) {
		perror("calloc");
		exit(1);
	}
	Config->Magic = CONFIG_LIVE;
	Config->Generation = Generation;
	return Config;
}

/* Poisons a configuration, then frees it. */
static VOID
FreeConfig(PCONFIG Config)
{
	Config->Magic = CONFIG_POISON;
	free(Config);
}

/* A worker: holds the device, reads the configuration under protection. */
static void *
WorkerThread(void *Context)
{
	PDEVICE_EXTENSION Ext = Context;
	PCONFIG Config;

	if (!ExAcquireRundownProtection(&Ext->UnloadRef))
		return NULL;		/* the device is going away */
	while (!__atomic_load_n(&Ext->Stopping, __ATOMIC_RELAXED)) {
		if (!ExAcquireRundownProtectionCacheAware(Ext->ConfigRef)) {
			/* Being swapped: come back in a moment. */
			__atomic_fetch_add(&Ext->Refused, 1, __ATOMIC_RELAXED);
			sched_yield();
			continue;
		}
		Config = __atomic_load_n(&Ext->Config, __ATOMIC_ACQUIRE);
		if (Config->Magic != CONFIG_LIVE)
			__atomic_fetch_add(&Ext->Violations, 1,
			    __ATOMIC_RELAXED);
		ExReleaseRundownProtectionCacheAware(Ext->ConfigRef);
		__atomic_fetch_add(&Ext->Reads, 1, __ATOMIC_RELAXED);
	}
	ExReleaseRundownProtection(&Ext->UnloadRef);
	return NULL;
}

int
main(void)
{
	DEVICE_EXTENSION Ext = { 0 };
	pthread_t Workers[WORKERS];
	PCONFIG Old;
	ULONG Round, i;

	ExInitializeRundownProtection(&Ext.UnloadRef);
	Ext.ConfigRef = ExAllocateCacheAwareRundownProtection(NonPagedPool,
	    CONFIG_TAG);
	if (Ext.ConfigRef == NULL) {
		fprintf(stderr, "ExAllocateCacheAwareRundownProtection failed\n");
		return 1;
	}
	Ext.Config = AllocateConfig(1);
	printf("wdm_example: %d workers, cache-aware reference of %zu bytes\n",
	    WORKERS, (size_t)ExSizeOfRundownProtectionCacheAware());
	for (i = 0; i < WORKERS; i++) {
		if (pthread_create(&Workers[i], NULL, WorkerThread, &Ext) != 0) {
			perror("pthread_create");
			return 1;
		}
	}

	for (Round = 1; Round <= ROUNDS; Round++) {
		/* Let the workers read; not a sleep: count what they did. */
		while (__atomic_load_n(&Ext.Reads, __ATOMIC_RELAXED) <
		    Round * READS_PER_ROUND)
			sched_yield();

		ExWaitForRundownProtectionReleaseCacheAware(Ext.ConfigRef);
		Old = Ext.Config;
		__atomic_store_n(&Ext.Config, AllocateConfig(Round + 1),
		    __ATOMIC_RELAXED);
		FreeConfig(Old);
		ExRundownCompletedCacheAware(Ext.ConfigRef);
		ExReInitializeRundownProtectionCacheAware(Ext.ConfigRef);
		printf("round %u: drained, generation %u freed, %u published\n",
		    (unsigned)Round, (unsigned)Round, (unsigned)Round + 1);
	}

	/* Unload: stop the workers and wait until none holds the device. */
	__atomic_store_n(&Ext.Stopping, TRUE, __ATOMIC_RELAXED);
	ExWaitForRundownProtectionRelease(&Ext.UnloadRef);
	ExRundownCompleted(&Ext.UnloadRef);
	/* A device that has run down must refuse. */
	if (ExAcquireRundownProtection(&Ext.UnloadRef))
		__atomic_fetch_add(&Ext.Violations, 1, __ATOMIC_RELAXED);
	for (i = 0; i < WORKERS; i++)
		pthread_join(Workers[i], NULL);
	FreeConfig(Ext.Config);
	ExFreeCacheAwareRundownProtection(Ext.ConfigRef);

	printf("unloaded: %u reads, %u refused during swaps, %u violations\n",
	    (unsigned)Ext.Reads, (unsigned)Ext.Refused,
	    (unsigned)Ext.Violations);
	return Ext.Violations == 0 ? 0 : 1;
}
