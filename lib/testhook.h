/*
 * testhook.h: points where a test may stop a thread inside the library.
 *
 * The last release of a run-down must be the releaser's last touch of the
 * block or reference (lib/block.h): after its decisive write only a futex
 * wake is left, because the waiter may return and free the memory at once.
 * Tests prove it by stopping a releaser at each of these steps, letting
 * the wait return, unmapping the memory and resuming the releaser.  The
 * hook is only ever called on slow paths, never on an acquire or a
 * fast-path release; it is NULL outside tests, and hidden from the shared
 * library's exports.
 */
#ifndef RUNDOWN_TESTHOOK_H
#define RUNDOWN_TESTHOOK_H

#define HOOK_BLOCK_CHARGE 1	/* slow release, before its charge */
#define HOOK_BLOCK_CHARGED 2	/* after the charge that drained the row,
				 * before the wake */
#define HOOK_REF_DRAINED 3	/* plain release that drained the word,
				 * before the wake */
#define HOOK_BLOCK_BEGUN 5	/* run-down begun (state flipped), before
				 * the fence and the harvest */
#define HOOK_BLOCK_RESET 6	/* re-initialize: rows and slots reset,
				 * before the state word opens */

extern void (*rd_test_hook)(int step);

#define TEST_HOOK(step) do {						\
	if (__builtin_expect(rd_test_hook != NULL, 0))			\
		rd_test_hook(step);					\
} while (0)

#endif /* RUNDOWN_TESTHOOK_H */
