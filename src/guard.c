/*
 * guard.c: keeps a client's ftruncate() from killing the daemon.
 *
 * Every process attached to a block holds a read-write descriptor of its
 * own row's object, and a read-write descriptor can change the object's
 * size.  A MAP_SHARED mapping does not follow: an access past the new end
 * of the object raises SIGBUS.  Seals (F_SEAL_SHRINK) would forbid the
 * change, but Linux seals only memfds, and a memfd has no name a
 * restarted daemon could find again.  So, as Wayland compositors do for
 * wl_shm buffers, the daemon survives the fault instead: the handler
 * maps a page of zeros over the page that faulted and returns, and the
 * access runs again and reads zeros.  That page is one spare page, made
 * and filled at start-up, shared by every page ever cut off: the handler
 * needs no memory the system may not have (with /dev/shm full, a fresh
 * page for the retried access would fault again, for ever).  From then on the daemon's
 * view of that page of the row is its own: the client cut off what it
 * shared, and only its own count can read wrong (the same as if it had
 * written zeros over its row, which it may).  The page goes when the row
 * is given back.  Headers cannot be cut: clients get them read-only.
 *
 * The table is read by the handler and written by the loop's thread.
 * Only the loop's thread ever touches a row (watcher threads leave the
 * loads to the kernel, watcher.c), so the handler runs on it, between two
 * of its own steps, never beside a remap.  Each slot is still a sequence
 * lock, so that a fault anywhere (a bug) reads the table consistently:
 * the loop makes seq odd, writes the fields, makes it even; the handler
 * uses a slot only if it read the same even seq before and after.
 *
 * Nothing in the handler but atomics, mmap() (a bare system call) and
 * sigaction(), all safe there.  A SIGBUS outside every guarded mapping is
 * a real bug: the default action (a core) is restored and the signal
 * raised again.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "atomics.h"
#include "guard.h"

struct guard_slot {
	uint32_t seq;		/* odd while the loop rewrites the slot */
	uintptr_t addr;		/* 0: free */
	size_t len;
	uint64_t faults;	/* repaired by the handler */
};

static struct guard_slot slots[GUARD_MAX];
static uintptr_t page_size;
static int spare = -1;		/* a memfd of one page, filled */

/* Reads slot s: 0 and its fields, or -1 while it is being rewritten. */
static int
guard_read(struct guard_slot *s, uintptr_t *addr, size_t *len)
{
	/* acquire: pairs with the release that made seq even, so the fields
	 * read below are at least those of that write. */
	uint32_t seq = rd_load(&s->seq, RD_ACQUIRE);

	if (seq & 1)
		return -1;
	*addr = rd_load(&s->addr, RD_RELAXED);
	*len = rd_load(&s->len, RD_RELAXED);
	/* acquire fence: the fields are read before seq is read again, so a
	 * rewrite that began meanwhile shows as a changed seq. */
	__atomic_thread_fence(RD_ACQUIRE);
	return rd_load(&s->seq, RD_RELAXED) == seq ? 0 : -1;
}

/* Writes slot s (the loop's thread only). */
static void
guard_write(struct guard_slot *s, uintptr_t addr, size_t len)
{
	uint32_t seq = rd_load(&s->seq, RD_RELAXED);

	rd_store(&s->seq, seq + 1, RD_RELAXED);
	/* release fence: a handler that reads any field below also reads the
	 * odd seq, or a later one, on its second look. */
	__atomic_thread_fence(RD_RELEASE);
	rd_store(&s->len, len, RD_RELAXED);
	rd_store(&s->faults, 0, RD_RELAXED);
	rd_store(&s->addr, addr, RD_RELAXED);
	/* release: pairs with guard_read()'s first acquire. */
	rd_store(&s->seq, seq + 2, RD_RELEASE);
}

static void
guard_handler(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr, addr;
	struct sigaction sa;
	int saved = errno, i;
	size_t len;

	(void)uc;
	if (si->si_code > 0) {	/* from the kernel: a fault */
		for (i = 0; i < GUARD_MAX; i++) {
			if (guard_read(&slots[i], &addr, &len) != 0 ||
			    addr == 0 || a < addr || a - addr >= len)
				continue;
			if (mmap((void *)(a & ~(page_size - 1)), page_size,
			    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			    spare, 0) == MAP_FAILED)
				break;
			rd_fetch_add(&slots[i].faults, 1, RD_RELAXED);
			errno = saved;
			return;	/* the access runs again, and reads zeros */
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
	raise(sig);	/* blocked until this returns, then fatal */
	errno = saved;
}

int
guard_init(void)
{
	struct sigaction sa;
	long page = sysconf(_SC_PAGESIZE);

	if (page <= 0)
		return -EINVAL;
	page_size = (uintptr_t)page;
	/* The spare page, in memory now: written, not only sized. */
	if ((spare = memfd_create("rundownd-guard", MFD_CLOEXEC)) < 0 ||
	    ftruncate(spare, (off_t)page) != 0 ||
	    fallocate(spare, 0, 0, (off_t)page) != 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = guard_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL) == 0 ? 0 : -errno;
}

int
guard_add(void *addr, size_t len)
{
	int i;

	for (i = 0; i < GUARD_MAX; i++) {
		if (rd_load(&slots[i].addr, RD_RELAXED) == 0) {
			guard_write(&slots[i], (uintptr_t)addr, len);
			return i;
		}
	}
	return -ENOSPC;
}

void
guard_remove(int slot)
{
	if (slot >= 0 && slot < GUARD_MAX)
		guard_write(&slots[slot], 0, 0);
}

uint64_t
guard_faults(int slot)
{
	if (slot < 0 || slot >= GUARD_MAX)
		return 0;
	return rd_load(&slots[slot].faults, RD_RELAXED);
}
