/*
 * block.pml: a Promela model of the shared cache-aware block (block.c),
 * checked exhaustively with spin by tests/check-model.sh.
 *
 * What is modelled, step for step with the C code: NP client processes,
 * each with its own row of NC (2) slots and a drain word, and rundownd,
 * which alone starts, harvests, completes, re-initializes and reclaims
 * (src/registry.c runs all of that on its loop's thread, so the daemon is
 * one sequential process); or (LOCKED) a library block, whose starter
 * holds the robust run-down lock.  A shared block's row is a
 * shared-memory object of its own, which only its process and rundownd
 * map read-write, and clients map the header (the state word) read-only:
 * a client writes no word but its own row's.  rundownd keeps a table of
 * the rows lent to a live process (block_layout's live mask), and every
 * loop over rows skips the others.  Every atomic access of the C code
 * (load, store, CAS, fetch_sub/add/and/or) is one Promela step, in an
 * atomic { } where it reads and writes; control flow between them is as
 * in C.  Exceptions: the harvest's loads of a row's at and rseq words are
 * one step, since by then every at word of the row is ACTIVE, nobody else
 * writes an ACTIVE word, and after the fence no section commits (no
 * interleaving can tell; a forger may rewrite its own row meanwhile, but
 * what the harvest makes of that row it could have written itself);
 * block_fence is one step (it returns only once every CPU was interrupted
 * or switched).  The live table is a local of
 * the daemon, as it is rundownd's private memory, so a look at it is no
 * step of its own.
 * Spin explores interleavings, so the model is sequentially consistent:
 * it checks the algorithm, not the memory orderings (those are argued in
 * block.c and exercised under tsan).
 *
 * Words are encoded as in block.h: at (slot) = 2 x count | ACTIVE; row
 * drain word = 4 x count | DONE | HARVESTED; state = 8 x generation |
 * state.  Counts may be negative (two's complement, as the C code's
 * modular words read).  A row's rseq words are one word here, pc[row]:
 * only sections on a CPU add to its word, and everything else (harvest,
 * row_total, block_reset, block_row_format) reads or writes them all
 * together while no section can commit, so which CPU a commit lands on
 * cannot matter, and one word saves the states of their distributions.
 * A row is done, for block_undrained and block_check_drained (row_done),
 * if drained (HARVESTED | DONE, count 0) or forged: harvested and owing
 * less than nothing, which no release leaves (block_release_slow refuses
 * to go below zero on a harvested row), only a write into the row.
 *
 * The rseq sections: sec[p] is the kernel's view of process p's thread:
 * SEC_IN once its section read the state word OPEN, SEC_ABORT once a
 * fence (membarrier's rseq command, or running on every CPU) interrupted
 * it there; the commit is one step that adds to pc[me] unless SEC_ABORT,
 * in which case the section starts again from the top (re-reading the
 * state).  A preemption's abort is not modelled on its own: it only
 * restarts a section, which the interleavings already delay.
 *
 * Proctypes, inlines and the C they model:
 *   client(me)   a process on row `me`, NOPS (client 0) or NOPS1 times:
 *                rundown_cache_acquire and, if granted,
 *                rundown_cache_release, each on either path (RSEQ 1; RSEQ
 *                3: only client 0 takes the atomic path; RSEQ 2: only
 *                client 0 the rseq path; RSEQ 0: atomic only), so that a
 *                protection taken on one path may be given back on the
 *                other (a thread without an rseq area, a handed-over
 *                protection):
 *                  rseq: cache_acquire/cache_release -> rd_rseq_add
 *                    (rseq_add: state read, commit or restart); a closed
 *                    state fails the acquire, and sends the release to
 *                    cache_release_slow -> block_release_slow;
 *                  atomic: on a CPU picked at random
 *                    (cache_acquire_atomic -> block_slot_acquire: load,
 *                    CAS loop), the release on a CPU picked again, so it
 *                    may land on another slot (the thread migrated):
 *                    cache_release_atomic -> block_slot_release, and
 *                    block_release_slow when the at word is ACTIVE.
 *                block_release_slow: load, CAS that also sets DONE on a
 *                drain; nothing after it but the futex wake.
 *   forger(1)    FORGE: client 1 is hostile.  It calls nothing, but
 *                writes its own row (drain word, at word, rseq word) at
 *                any step, NFORGE times (NFORGE 0: without bound, and an
 *                at word of 0 besides), from a set of values that covers
 *                a fresh row, a drained one, a forged one, a holder's, an
 *                ACTIVE and an open at word with a count, and an rseq
 *                word below zero; then it stops, or never does.  Client
 *                0 is honest.
 *   killer       SIGKILL of client 0 (MAXDEAD 1), or FORGE of the
 *                forger, at any step, including between the load and the
 *                CAS of an acquire or release, inside an rseq section,
 *                while it holds protection, and (the forger) after it
 *                stopped.  The rows are alike, so one death stands for
 *                any.
 *   daemon       rundownd's loop, one handler at a time (ghost `busy'
 *                while in one):
 *                registry_wait -> block_start (block_flip,
 *                then harvest_all: block_fence, block_harvest_row
 *                for every live row, block_check_drained).
 *                block_harvest_row: block_switch of each slot (one
 *                fetch-or), the sum, a load of the drain word, and if not
 *                harvested: rundownd's, one fetch-add of the sum and
 *                HARVESTED; LOCKED, the CAS loop that adds them and
 *                settles (a library block may have two harvesters at a
 *                time); then, harvested at zero (by this harvest, or by
 *                a rundownd killed before its DONE), one CAS to DONE.
 *                No loop of rundownd's retries on a word a client can
 *                write;
 *                PROTO_COMPLETED -> block_completed;
 *                PROTO_REINIT -> block_reinit -> block_reset (drain flags,
 *                ACTIVE at words, rseq words of every live row, then
 *                OPEN);
 *                registry_holder_exited -> registry_reclaim
 *                (block_drop_row here): registry_release_row
 *                (block_row_held for the log, then the row leaves the
 *                live table and is unmapped), then registry_settle ->
 *                block_settle; the row's words are neither settled nor
 *                zeroed, and nothing reads them again;
 *                REUSE: PROTO_ATTACH of a new process to the row of dead
 *                client 0, once: block_row_format (all zero if the state
 *                reads OPEN, else drained: ACTIVE at words, rseq words 0,
 *                drain word ROW_FLAGS), the row live, then a client on
 *                it;
 *                the watcher's poke -> registry_settle -> block_settle:
 *                while RUNDOWN, block_undrained, and if every live row is
 *                done block_end_rundown, the CAS to DRAINED on the word
 *                read before the scan (releasers never end a run-down:
 *                the daemon does, for shared blocks).  block_state, with
 *                which
 *                block_completed, block_reinit and a refused
 *                block_start begin with, is the same loop, modelled
 *                once, here.
 *                Once it has done all its run-downs and the block reads
 *                drained or completed, it may free the block (ghost
 *                `gone`): from then on no client may touch it.
 *                With MAXCRASH 1 it dies once anywhere in block_reset
 *                (CRASHIN ST_RESETTING) or between its flip and the end
 *                of its harvest, its fence included (ST_RUNDOWN), and a
 *                new daemon runs adopt_one: every recorded row
 *                mapped and live again, a dead process's too, and its
 *                owner looked up (adopt_row); then
 *                block_recover: block_reset again, or harvest_all again
 *                (fence, every live row, block_check_drained); only then
 *                the row of a process found dead reclaimed
 *                (registry_reclaim: block_drop_row).  The live table
 *                (local lv) survives: rundownd keeps the rows' owners
 *                where no client can write, and reads them back.
 *                LOCKED: a process of a library block instead, with
 *                BLOCK_F_LOCK: block_start takes the run-down lock
 *                (block_lock, which runs block_recover under it) before
 *                the flip and drops it after the harvest, block_reinit
 *                holds it throughout; no reclaim (MAXDEAD 0), every row
 *                live (block_layout's live is NULL).  With MAXCRASH 1 it
 *                dies between flip and unlock and stays dead: its robust
 *                lock is free for the next taker (EOWNERDEAD), and the
 *                waiter finishes its work.
 *   waiter       WAITSCANS times, a second party on the waiting side:
 *                LOCKED, a thread of the owner in block_wait (the whole
 *                wait: block_settle_lock, which takes the lock when a row
 *                is unharvested and so finishes a dead starter's fence
 *                and harvest; then the futex loop and the drain by
 *                block_end_rundown), after which the owner may free the
 *                block; else a late scan and drain CAS on a state word
 *                read long before (block_check_drained; a library
 *                block's block_wait makes one when its sleep times out;
 *                a shared block's clients no longer scan: they cannot
 *                map the rows, and ask rundownd).  It takes every row as
 *                live, so it runs only where no row is dropped.
 *   crasher      kills rundownd, or the starter (MAXCRASH).
 *   monitor      invariants, checked in every reachable state.
 * Bounds: MAXRUN run-downs (and MAXRUN - 1 re-initializes between them).
 *
 * Not modelled: the futex (a waiter blocked on "word != s" wakes exactly
 * when the word changes, which is what futex_wake_all after every change
 * gives; waiters are answered when the word leaves gen|RUNDOWN, so the
 * model checks the word), several threads of one process (they share a
 * row; between them they only add CAS retries, and sections on other
 * CPUs, which the fence treats alike), a live process's detach
 * (registry_detach drops the row as a death does; what the process still
 * held is released with it), the lending of a row to a process other than once to row 0
 * (REUSE), forked children (CACHE_FORKED), overflow of the modular
 * counts, wrap-around of the 29-bit generation, a timed wait, the private
 * block's block_wait that starts run-down itself, a library block's
 * re-initializer that dies (block_recover's reset under the lock: the
 * restart configuration checks that reset's repetition for rundownd),
 * values the forger writes beyond its set, and rundownd's own record of
 * the owners (how the live table survives a restart).
 *
 * Properties:
 *   safety (assert): the RUNDOWN -> DRAINED CAS never succeeds, and the
 *     state never reads DRAINED or COMPLETED, while a live honest process
 *     holds a protection it was granted (so no wait returns early: only
 *     the drain CAS, of block_check_drained or block_end_rundown, moves
 *     the word off gen|RUNDOWN), whatever the forger writes; an honest
 *     harvested row never owes less than zero
 *     (no underflow: the "double release" branch of block_release_slow is
 *     never taken by correct clients; and so no honest row reads forged,
 *     which would end a wait for it); outside RESETTING each live honest
 *     row's total (row_total, what block_query adds up, rseq words
 *     included) equals what its process holds; no rseq commit lands on a
 *     harvested row or during a reset (the fence's promise);
 *     block_row_held finds exactly what a dead honest process held (a
 *     new rundownd reclaims only once block_recover has finished what
 *     its predecessor left half done: see block_drop_row); no client
 *     touches the block once the daemon or the owner freed it (the
 *     last release is the last touch: a releaser that is still running
 *     after its decisive write must not read or write the block, since
 *     the waiter may have returned and freed it); no deadlock (invalid
 *     end state).
 *   liveness (ltl quiet_drains, weak fairness): once every client has
 *     finished (released all it took) or died and been reclaimed, a
 *     run-down in progress ends: the state leaves RUNDOWN, which only the
 *     drain does.  FORGE: once client 0 has finished and the forger has
 *     been reclaimed, or has stopped with its row harvested and owing
 *     nothing or less (drained, or forged), and no harvest of rundownd's
 *     is between its load of that row's drain word and its fetch-add
 *     (ghost `adding': a forger that sets HARVESTED there has the add
 *     carry out of the flags, and its row reads unharvested).  A forger
 *     that stops owing more (or with its row unharvested, written after
 *     the harvest) is a holder: the run-down waits until it dies and is
 *     reclaimed.  rundown_ends, stronger (every run-down ends, since
 *     every client here finishes or dies; not with a forger), is there
 *     for checking by hand.
 *   progress (ltl daemon_free, weak fairness): rundownd's every handler
 *     ends (ghost `busy'), whatever its clients write: none of its loops
 *     retries on a word that a client can keep changing.  Weak fairness
 *     binds the forger too, but it can always write again, so it is
 *     still free to write without bound; what must not be forced on it
 *     is its death, so the configuration for this (NFORGE 0) has none
 *     (MAXDEAD 0), nor restarts.
 *
 * BROKEN selects a deliberate bug, so that the self-test can show that the
 * properties fail when they should: 1 acquire ignores ACTIVE (no run-down
 * check); 2 the harvest leaves out the last slot of each row; 3 block_reset
 * zeroes the drain words (a repeated reset loses the residue of a release
 * that migrated across the first); 4 reclaim leaves the dead process's row
 * live (its debt is waited for); 5 block_reset zeroes open slots too, as
 * before commit 3f13474 (spin finds the lost acquire after a restart); 6
 * block_check_drained's CAS ignores the generation; 7 a release that
 * drains its row goes on to scan the rows and end the run-down itself, as
 * before the last-touch rule (spin finds it reading the freed block); 8
 * no fence: the harvest reads the rseq words while a section that read
 * OPEN can still commit; 9 block_recover harvests without fencing again
 * (a restarted rundownd, or a waiter under the lock, trusts a fence the
 * dead party may not have reached); 10 block_reset leaves the rseq words
 * (the next harvest counts them again); 11 block_lock does not recover (a
 * dead starter's harvest is never finished); 12 the forger writes client
 * 0's row too, as when every process mapped every row (its release then
 * refuses, as the C code does, and the check shows the early drain); 13
 * block_check_drained and block_undrained scan rows that are not live (a
 * dropped row's last words are waited for); 14 a forged row is not done
 * (the run-down waits for it); 15 a row lent while the block is not open
 * is zeroed, as one lent while open (its process acquires while the
 * block reads drained); 16 block_switch, and rundownd's harvest of the
 * drain word, are the CAS loops they were (a forger that writes 0 and 2
 * into an open at word in turn keeps block_switch retrying: daemon_free
 * fails); 17 block_settle (and block_state, and a library block's
 * block_wait) drain with block_check_drained instead of
 * block_end_rundown, as before commit 2c9c59a: it scans the rows a second
 * time and gives up if one now reads undone, and block_settle loops (a
 * forger whose drain word reads done for one scan and undone for the
 * other keeps it looping); 18 block_harvest_row sets DONE only after its
 * own fetch-add, not on a row it finds harvested, as before commit
 * 2c9c59a (a rundownd killed between the two leaves an idle row
 * harvested at zero without DONE, and the run-down never ends); 19
 * adopt_one reclaims the rows of the processes gone before
 * block_recover, as before commit 2c9c59a (block_row_held reads a row
 * that a killed rundownd's reset left half done, and counts the last
 * generation's at and rseq words again: only the row check catches it,
 * so its self-test keeps that check); 20 harvest_all harvests after a
 * fence that failed, as block_fence's callers did before (a section
 * that read OPEN commits to a harvested row).
 *
 * FENCEFAIL lets that many fences fail (fence_cpus' -EPERM, or a walk
 * that cannot begin): a failed fence interrupts no section, and nothing
 * is harvested after it; the next party under the lock (LOCKED: the
 * waiter, which tries again while a row is unharvested) fences again.
 *
 * By hand: spin -a -DMAXRUN=2 -DMAXDEAD=0 block.pml &&
 *   cc -O1 -DSAFETY -DNOCLAIM -o pan pan.c && ./pan       (safety)
 *   cc -O1 -DNFAIR=3 -o pan pan.c && ./pan -a -f -N quiet_drains (liveness)
 *   spin -t -p -g -DMAXRUN=2 -DMAXDEAD=0 block.pml        (a trail)
 *   (a forger: -DFORGE=1 -DRSEQ=2 -DNOPS=1 -DMAXRUN=2 -DMAXDEAD=1)
 *   ./pan -a -f -N daemon_free          (progress, the liveness build)
 *   (a forger without bound: -DFORGE=1 -DNFORGE=0 -DRSEQ=2 -DNOPS=1
 *   -DMAXRUN=1 -DMAXDEAD=0)
 */

#ifndef NP
#define NP 2			/* client processes = rows (2 or 3) */
#endif
#define NC 2			/* CPUs = slots per row (PICK assumes 2) */
#ifndef NOPS
#define NOPS 1			/* acquire/release pairs of client 0 */
#endif
#ifndef NOPS1
#define NOPS1 NOPS		/* and of the other clients */
#endif
#ifndef MAXRUN
#define MAXRUN 2		/* run-downs the daemon starts */
#endif
#ifndef MAXDEAD
#define MAXDEAD 1		/* clients that may be killed */
#endif
#ifndef MAXCRASH
#define MAXCRASH 0		/* restarts of rundownd (deaths of the starter) */
#endif
#ifndef CRASHIN
#define CRASHIN ST_RESETTING	/* in block_reset, or ST_RUNDOWN: harvest */
#endif
/* Which path a client's acquire or release takes: RSEQ 1, either (a
 * thread with an rseq area, or one without: valgrind, a protection handed
 * over between such threads); 3, client 0 either and the others the rseq
 * path; 2, client 0 the rseq path and the others the atomic one; 0, the
 * atomic path only (a block without BLOCK_F_RSEQ).  2 and 3 for fewer
 * states. */
#ifndef RSEQ
#define RSEQ 1
#endif
#if RSEQ == 2
#define RSEQ_PATH (me == 0)
#define ATOMIC_PATH (me != 0)
#elif RSEQ == 3
#define RSEQ_PATH true
#define ATOMIC_PATH (me == 0)
#else
#define RSEQ_PATH true
#define ATOMIC_PATH true
#endif
#ifndef LOCKED
#define LOCKED 0		/* 1: a library block with the run-down lock */
#endif
#ifndef FENCEFAIL
#define FENCEFAIL 0		/* fences that may fail (fence_cpus != 0) */
#endif
#ifndef FORGE
#define FORGE 0			/* 1: client 1 is hostile (forger) */
#endif
#ifndef NFORGE
#define NFORGE 2		/* writes the forger makes at most; 0: no bound */
#endif
#ifndef REUSE
#define REUSE 0			/* 1: a new process gets client 0's row */
#endif
/* The process the killer may kill: the forger, or client 0. */
#if FORGE
#define VICTIM 1
#else
#define VICTIM 0
#endif
#define FORGED_ROW(i) (FORGE && (i) == 1)
#ifndef BROKEN
#define BROKEN 0
#endif

/* block.h */
#define SLOT_ACTIVE 1
#define SLOT_UNIT 2
#define ROW_HARVESTED 1
#define ROW_DONE 2
#define ROW_FLAGS 3
#define ROW_UNIT 4
#define ST_OPEN 0
#define ST_RUNDOWN 1
#define ST_DRAINED 2
#define ST_COMPLETED 3
#define ST_RESETTING 4
#define ST_MASK 7
#define ST_GEN_UNIT 8

/* block.c: slot_count, row_count, row_drained (exact divisions) */
#define SLOT_COUNT(v) (((v) - ((v) & SLOT_ACTIVE)) / SLOT_UNIT)
#define ROW_COUNT(d) (((d) - ((d) & 3)) / ROW_UNIT)
#define ROW_DRAINED(d) ((d) == ROW_FLAGS)
/* row_forged(): harvested and owing less than nothing, which no release
 * can leave (block_release_slow refuses), only a write into the row. */
#define ROW_FORGED(d) (((d) & ROW_HARVESTED) && ROW_COUNT(d) < 0)
/* row_done(): the run-down waits no longer for the row (BROKEN 14: a
 * forged row is waited for). */
#if BROKEN == 14
#define ROWDONE(d) ROW_DRAINED(d)
#else
#define ROWDONE(d) (ROW_DRAINED(d) || ROW_FORGED(d))
#endif
/* block_live() in block_check_drained and block_undrained (BROKEN 13:
 * every row, lent or not). */
#if BROKEN == 13
#define SCANNED(r) true
#else
#define SCANNED(r) LIVE(r)
#endif
/* row_settle(): DONE on a harvested row whose count reaches zero. */
#define ROW_SETTLE(d) (((d) & ROW_HARVESTED) && ROW_COUNT(d) == 0 -> \
    (d) | ROW_DONE : (d))

#define SLOT(r, c) slot[(r) * NC + (c)]
#define PICK(c) if :: c = 0 :: c = 1 fi

short slot[NP * NC];		/* the at words: slot[row][cpu] */
short pc[NP];			/* the rseq words of a row, summed */
short drain[NP];		/* row drain words */
/* rundownd's table of the rows lent to a live process (block_layout's
 * live mask), in its private memory: a local of the daemon, lv, bit r
 * for row r, which survives its restarts (rundownd keeps the owners in
 * an object that no client can write, and a new rundownd reads them
 * back).  All rows, and for good, in a library block (LOCKED).  The
 * waiter has its own lv, every row: it runs only where no row is
 * dropped (below). */
#define ALLROWS ((1 << NP) - 1)
#define LIVE(r) ((lv >> (r)) & 1)
byte state;			/* ST_OPEN, generation 0 */
byte nffail;			/* fences failed so far (FENCEFAIL) */
bool ffailed;			/* the last fence failed (one party fences
				 * at a time: under the lock, or rundownd's
				 * loop) */
#if LOCKED
/* The run-down lock: who holds it.  A holder's death frees it (the next
 * taker finds its thread gone, and takes the word over). */
#define LK_DAEMON 1
#define LK_WAITER 2
byte lock;
#endif

/* Ghosts: what the C code does not keep but the properties talk about. */
byte held[NP];			/* granted and not yet released, per process */
byte livehold;			/* sum of held[] over live processes */
bool killed[NP];		/* the process is dead */
bool reclaimed[NP];		/* and rundownd has reclaimed its row */
bool done[NP];			/* the process released all and finished */
#if REUSE
bool exited[NP];		/* its proctype ended (it may be dead first) */
bool reused;			/* row 0 went to a new process */
#endif
byte ndead;
byte runs;			/* run-downs the daemon (or starter) began */
bool gone;			/* rundownd freed the block */
bool scanning;			/* the waiter is in its wait, or its late check */
bool crashable;			/* rundownd is in a harvest or re-initialize */
bool crash;			/* rundownd was killed */
bool busy;			/* rundownd is in a handler (daemon_free) */
bool adding;			/* between the harvest's load and fetch-add */
byte ncrash;
/* The kernel's side of rseq, per process (its one thread): in a section
 * that read OPEN and has not committed (SEC_IN), and marked to restart
 * by a fence (SEC_ABORT: the abort handler runs instead of the commit). */
#define SEC_OUT 0
#define SEC_IN 1
#define SEC_ABORT 2
byte sec[NP];
#if MAXCRASH > 0
#define CRASHABLE(x) crashable = x
#else
#define CRASHABLE(x) skip
#endif

#define ST (state & ST_MASK)
#define PENDING (ST == ST_RUNDOWN)
#if FORGE
/* The forger is quiet once reclaimed, or once it stopped writing with its
 * row harvested and owing nothing or less (drain word 3 or less: drained,
 * or forged; 1, owing 0 without DONE, is not written by the forger, and
 * the harvest's DONE CAS follows its fetch-add), and no harvest is between
 * its load of the row and its fetch-add (`adding': a HARVESTED set there
 * makes the add carry out of the flags, and the row read unharvested).
 * An unharvested row is not: written after the harvest, it is never
 * harvested, and the run-down waits for it until its process is
 * reclaimed, as for a holder. */
#define FORGER_QUIET (reclaimed[1] || (done[1] && !adding && \
    (drain[1] & ROW_HARVESTED) && drain[1] <= ROW_FLAGS))
#define QUIET ((done[0] || reclaimed[0]) && FORGER_QUIET)
#elif NP == 2
#define QUIET ((done[0] || reclaimed[0]) && (done[1] || reclaimed[1]))
#else
#define QUIET ((done[0] || reclaimed[0]) && (done[1] || reclaimed[1]) && \
    (done[2] || reclaimed[2]))
#endif

/* row_total(): a row's count, its at and rseq words included until
 * harvested. */
#define ROW_TOTAL(r) (ROW_COUNT(drain[r]) + \
    ((drain[r] & ROW_HARVESTED) -> 0 : \
    (SLOT_COUNT(SLOT(r, 0)) + SLOT_COUNT(SLOT(r, 1)) + pc[r])))

/* ---- block.c / block.h steps (inlines use the caller's locals) ------- */

/* A client's access to the block: never once it is freed (`isclient` is a
 * local of every proctype that calls the inlines, true in clients). */
#define TOUCH assert(!gone || !isclient)

/* block_check_drained(b, s): scan every live row, then CAS RUNDOWN ->
 * DRAINED on the word read before the scan (futex_wake_all is the word
 * change).  A row is done if drained, or forged. */
inline block_check_drained()
{
	if
	:: (s & ST_MASK) != ST_RUNDOWN
	:: else ->
		r = 0;
		do
		:: r < NP && !SCANNED(r) -> r++	/* not lent: not read */
		:: r < NP && SCANNED(r) ->
			if	/* rd_load(block_row(b, l, r)) */
			:: atomic { ROWDONE(drain[r]) -> TOUCH }; r++
			:: else -> break
			fi
		:: else ->
			atomic {	/* rd_cas(&state, &seen, DRAINED) */
				if
#if BROKEN == 6
				/* BROKEN 6: any generation's RUNDOWN */
				:: (state & ST_MASK) == ST_RUNDOWN ->
#else
				:: state == s ->
#endif
					state = (s & ~ST_MASK) | ST_DRAINED;
					assert(livehold == 0)
				:: else
				fi
			};
			break
		od;
		r = 0
	fi;
	s = 0
}

/* block_end_rundown(b, s): for a caller whose scan (block_undrained,
 * after its load of s) found every live row done, RUNDOWN -> DRAINED by
 * one CAS on s, which fails only if the word has left s; s is the word
 * now, either way.  No second scan (block_check_drained's), and no loop. */
inline block_end_rundown()
{
	atomic {			/* rd_cas(&state, &s, DRAINED) */
		if
		:: state == s ->
			state = (s & ~ST_MASK) | ST_DRAINED;
			assert(livehold == 0)
		:: else
		fi;
		s = state
	}
}

/* block_settle(b, l, ...) (registry_settle; the same loop as
 * block_state's, which block_completed, block_reinit and a refused
 * block_start begin with): while the word s reads RUNDOWN,
 * block_undrained (one load of each live row), and if every row is done,
 * block_end_rundown, which moves the word off s: the loop runs at most
 * twice, whatever a process writes into its row.  BROKEN 17: the code
 * before commit 2c9c59a, which drained with block_check_drained instead:
 * a second scan, which gives up if a row now reads undone, and the loop
 * runs again; a process that keeps rewriting its own row (done for the
 * one scan, undone for the other) keeps it running. */
inline block_settle()
{
	s = state;			/* rd_load */
	do
	:: (s & ST_MASK) != ST_RUNDOWN -> break
	:: else ->
		r = 0;			/* block_undrained */
		do
		:: r < NP && !SCANNED(r) -> r++
		:: r < NP && SCANNED(r) ->
			if	/* rd_load(block_row(b, l, r)) */
			:: ROWDONE(drain[r]) -> r++
			:: else -> break
			fi
		:: else -> break
		od;
		if
		:: r < NP -> break	/* the watcher arms on row r */
		:: else ->
#if BROKEN != 17
			block_end_rundown()
#else
			block_check_drained();
			s = state	/* rd_load */
#endif
		fi
	od;
	r = 0;
	s = 0
}

/* rd_rseq_add(state, pc of row me, delta) (rseq.h): the restartable
 * sequence of cache_acquire and cache_release.  The CPU number (which
 * picks the rseq word: one per row here) and the state word are read at
 * its top; the add to that CPU's rseq word is the commit, one
 * instruction, which runs only if the kernel did not abort the section
 * since (by a fence; a preemption's abort only delays the commit).  An
 * aborted section starts again from the top.  ok: committed
 * (RUNDOWN_RSEQ_DONE); else the state did not read OPEN (RUNDOWN_RSEQ_CLOSED),
 * nothing changed. */
inline rseq_add(delta)
{
	do
	:: atomic {
		/* A release's access (an acquire may come after the free:
		 * that is its caller's use of a freed object, not a touch
		 * this model looks for). */
		assert(delta > 0 || !gone || !isclient);
		if			/* the state word, against ST_MASK */
		:: (state & ST_MASK) == ST_OPEN -> sec[me] = SEC_IN
		:: else -> ok = false; break
		fi
	   };
	   atomic {
		assert(delta > 0 || !gone || !isclient);
		if
		:: sec[me] == SEC_ABORT -> sec[me] = SEC_OUT	/* retry */
		:: else ->		/* addq delta, pc[me][cpu] */
#ifndef NOROWCHECK
			/* The fence's promise: no commit after it, so none
			 * on a harvested row or in a reset. */
			assert(!(drain[me] & ROW_HARVESTED) &&
			    ST != ST_RESETTING);
#endif
			sec[me] = SEC_OUT;
			pc[me] = pc[me] + delta;
			held[me] = held[me] + delta;
			livehold = livehold + delta;
			ok = true;
			break
		fi
	   }
	od
}

/* block_slot_acquire(slot of row me, cpu c): ok if granted. */
inline block_slot_acquire()
{
	v = SLOT(me, c);		/* rd_load */
	do
#if BROKEN == 1
	:: false -> skip		/* BROKEN 1: no ACTIVE check */
#else
	:: (v & SLOT_ACTIVE) -> ok = false; break
#endif
	:: else ->
		atomic {		/* rd_cas(slot, &v, v + UNIT) */
			if
			:: SLOT(me, c) == v ->
				SLOT(me, c) = v + SLOT_UNIT;
				held[me]++;
				livehold++;
				ok = true;
				break
			:: else -> v = SLOT(me, c)
			fi
		}
	od;
	v = 0
}

/* block_slot_release(slot of row me, cpu c): ok if done on the slot. */
inline block_slot_release()
{
	v = SLOT(me, c);		/* rd_load */
	do
	:: (v & SLOT_ACTIVE) -> ok = false; break
	:: else ->
		atomic {		/* rd_cas(slot, &v, v - UNIT) */
			if
			:: SLOT(me, c) == v ->
				SLOT(me, c) = v - SLOT_UNIT;
				held[me]--;
				livehold--;
				ok = true;
				break
			:: else -> v = SLOT(me, c)
			fi
		}
	od;
	v = 0
}

/* block_release_slow(b, me, 1): a CAS loop; the CAS is the release's
 * decisive write, and after it only the futex wake (not a block access)
 * is left. */
inline block_release_slow()
{
	atomic { d = drain[me]; TOUCH };	/* rd_load */
	do
	:: atomic {			/* rd_cas(drain, &d, settle(d - charge)) */
		TOUCH;
		/* No underflow: below zero would be a double release, which
		 * correct clients never make (the C code refuses it).  BROKEN
		 * 12, where the forger writes this row, refuses as the C code
		 * does, so that the check shows what that costs. */
#if BROKEN == 12
		if
		:: (d & ROW_HARVESTED) && ROW_COUNT(d - ROW_UNIT) < 0 -> break
		:: else
		fi;
#else
		assert(!(d & ROW_HARVESTED) || ROW_COUNT(d - ROW_UNIT) >= 0);
#endif
		if
		:: drain[me] == d ->
			drain[me] = ROW_SETTLE(d - ROW_UNIT);
			d = drain[me];
			held[me]--;
			livehold--;
			break
		:: else -> d = drain[me]
		fi
	}
	od;
#if BROKEN == 7
	if	/* BROKEN 7: the releaser ends the run-down itself */
	:: ROW_DRAINED(d) ->
		d = 0;
		atomic { s = state; TOUCH };
		block_check_drained()
	:: else -> d = 0
	fi
#else
	d = 0				/* futex_wake_all: a system call */
#endif
}

/* block_fence(l): membarrier's rseq command, or a run on every CPU.  It
 * returns once every CPU was interrupted or switched, so every section
 * that read OPEN (before the flip: after it, a section reads RUNDOWN)
 * either committed or restarts: one step. */
inline block_fence()
{
#if BROKEN == 8			/* BROKEN 8: no fence at all */
	ffailed = false
#else
	atomic {
		ffailed = false;
		if		/* FENCEFAIL: a walk fails, interrupting none */
		:: nffail < FENCEFAIL -> nffail++; ffailed = true
		:: true
		fi;
		r = 0;
		do
		:: r < NP && !ffailed ->
			if
			:: sec[r] == SEC_IN -> sec[r] = SEC_ABORT
			:: else
			fi;
			r++
		:: else -> break
		od;
		r = 0
	}
#endif
}

/* block_switch(b, r, c): set ACTIVE, keep the count: one fetch-or, which
 * no write of the row's process can make retry (BROKEN 16: the CAS loop
 * it was, which a process rewriting an open at word keeps failing). */
inline block_switch()
{
#if BROKEN == 16
	v = SLOT(r, c);			/* rd_load */
	do
	:: (v & SLOT_ACTIVE) -> break
	:: else ->
		atomic {		/* rd_cas(slot, &v, v | ACTIVE) */
			if
			:: SLOT(r, c) == v ->
				SLOT(r, c) = v | SLOT_ACTIVE;
				break
			:: else -> v = SLOT(r, c)
			fi
		}
	od;
	v = 0
#else
	SLOT(r, c) = SLOT(r, c) | SLOT_ACTIVE	/* rd_fetch_or */
#endif
}

/* The DONE CAS of block_harvest_row: one try, which only the row's own
 * process can make fail (a release is refused on a harvested row at
 * zero). */
inline block_settle_row()
{
	if
	:: ROW_SETTLE(d) != d ->
		atomic {		/* rd_cas(drain, &d, settle(d)) */
			if
			:: drain[r] == d -> drain[r] = d | ROW_DONE
			:: else
			fi
		}
	:: else
	fi
}

/* block_harvest_row(b, r): switch every slot, sum, then add the sum and
 * HARVESTED to the drain word once: LOCKED (BLOCK_F_LOCK), by a CAS loop
 * that two harvesters may race; rundownd's (the only harvester of its
 * blocks), by one fetch-add and, if that leaves the row harvested at
 * zero, one CAS to set DONE, which no release can make fail (a harvested
 * row at zero refuses them), only the row's own process (BROKEN 16: the
 * CAS loop, as before, which that process can keep failing). */
inline block_harvest_row()
{
	c = 0;
	do
	:: c < NC -> block_switch(); c++
	:: else -> break
	od;
	/* The loads of the sum, one step: every at word of the row is
	 * ACTIVE now and nobody else writes an ACTIVE word, and after the
	 * fence no section commits to an rseq word, so no interleaving can
	 * tell the loads apart (this is what partial order reduction would
	 * do, were the words local).  Only a forger writes its own row's
	 * words meanwhile, and what the harvest makes of a forged row
	 * matters to nothing but that row, whose every word the forger can
	 * write anyway.  Without the fence (BROKEN 8, 9) a commit can still
	 * land between this step and the add below. */
	atomic {
		sum = 0;
		c = 0;
		do
#if BROKEN == 2
		:: c < NC - 1 ->	/* BROKEN 2: the last slot is not summed */
#else
		:: c < NC ->
#endif
			sum = sum + SLOT_COUNT(SLOT(r, c));	/* rd_load */
			c++
		:: else -> break
		od;
		sum = sum + pc[r];		/* rd_load of each */
		c = 0
	};
	atomic {			/* rd_load */
		d = drain[r];
#if !LOCKED && BROKEN != 16
		adding = !(d & ROW_HARVESTED)
#endif
	};
	if
	:: (d & ROW_HARVESTED)		/* once, however often this runs */
#if LOCKED || BROKEN == 16
	:: else ->
		do
		:: (d & ROW_HARVESTED) -> break
		:: else ->
			atomic {	/* rd_cas(drain, &d, settle(d + add)) */
				if
				:: drain[r] == d ->
					drain[r] = ROW_SETTLE(d + sum *
					    ROW_UNIT + ROW_HARVESTED);
					d = drain[r];
					break
				:: else -> d = drain[r]
				fi
			}
		od
#else
	:: else ->
		atomic {		/* d = rd_fetch_add(drain, add) + add */
			drain[r] = drain[r] + sum * ROW_UNIT + ROW_HARVESTED;
			d = drain[r];
			adding = false
		}
#if BROKEN == 18
		;
		block_settle_row()
#endif
#endif
	fi;
#if BROKEN != 18
	/* Harvested at zero, by this harvest or by a rundownd killed
	 * between its fetch-add and this CAS: DONE. */
	block_settle_row();
#endif
	/* futex_wake_all if done: a system call */
	sum = 0;
	d = 0
}

/* harvest_all(b, s): the fence, every row's harvest, the drain check. */
inline harvest_all()
{
	block_fence();
	if
#if BROKEN != 20		/* BROKEN 20: harvests after a failed fence */
	:: ffailed -> skip	/* nothing harvested: the next party retries */
#endif
	:: else ->
		r = 0;
		do
		:: r < NP && LIVE(r) -> block_harvest_row(); r++
		:: r < NP && !LIVE(r) -> r++
		:: else -> break
		od;
		block_check_drained()
	fi
}

/* block_reset(b, s): clear HARVESTED (keep the residue), zero the ACTIVE
 * at words and every rseq word of every live row, open the next
 * generation. */
inline block_reset()
{
	r = 0;
	do
	:: r < NP && !LIVE(r) -> r++
	:: r < NP && LIVE(r) ->
		atomic {		/* rd_fetch_and(drain, ~FLAGS) */
#if BROKEN == 3
			drain[r] = 0	/* BROKEN 3: the residue is lost */
#else
			drain[r] = drain[r] & ~ROW_FLAGS
#endif
		};
		r++
	:: else -> break
	od;
	r = 0;
	do
	:: r < NP && !LIVE(r) -> r++
	:: r < NP && LIVE(r) ->
		c = 0;
		do
		:: c < NC ->
			v = SLOT(r, c);			/* rd_load */
			if
#if BROKEN == 5
			:: true ->	/* BROKEN 5: every slot, as it was */
#else
			:: (v & SLOT_ACTIVE) ->
#endif
				SLOT(r, c) = 0		/* rd_store */
			:: else
			fi;
			v = 0;
			c++
		:: else -> break
		od;
#if BROKEN != 10			/* BROKEN 10: the rseq words stay */
		pc[r] = 0;			/* rd_store of each */
#endif
		r++
	:: else -> break
	od;
	c = 0;
	r = 0;
	state = ((s & ~ST_MASK) + ST_GEN_UNIT) | ST_OPEN;	/* rd_store */
	s = 0
}

/* block_recover(b): finish what a party that died left half done: a
 * reset, or the run-down's fence and harvest (each row added once) and
 * the drain check.  The fence is repeated: the party may have died
 * before its own. */
inline block_recover()
{
	s = state;			/* rd_load */
	if
	:: (s & ST_MASK) == ST_RESETTING -> block_reset()
	:: (s & ST_MASK) == ST_RUNDOWN ->
#if BROKEN == 9
		/* BROKEN 9: trusts the dead party's fence */
		r = 0;
		do
		:: r < NP && LIVE(r) -> block_harvest_row(); r++
		:: r < NP && !LIVE(r) -> r++
		:: else -> break
		od;
		block_check_drained()
#else
		harvest_all()
#endif
	:: else -> s = 0
	fi
}

#if LOCKED
/* block_lock(b, l, NULL): the robust mutex (a dead holder's lock is
 * free, and taken with EOWNERDEAD: the same here), then, if block_busy
 * finds a start or reset half done under it, block_recover (BROKEN 11:
 * not). */
inline block_lock(who)
{
	atomic { lock == 0 -> lock = who };
#if BROKEN != 11
	s = state;			/* block_busy */
	r = 0;
	if
	:: (s & ST_MASK) == ST_RUNDOWN ->
		do
		:: r < NP && (!LIVE(r) || (drain[r] & ROW_HARVESTED)) ->
			r++
		:: else -> break
		od
	:: else -> r = NP
	fi;
	if
	:: (s & ST_MASK) == ST_RESETTING || r < NP -> r = 0; block_recover()
	:: else -> r = 0
	fi
#endif
}

#define block_unlock() lock = 0
#endif

/* block_start(b, l, &w): only an open block is started;
 * the lock, block_flip, the fence and the harvest of every row, the
 * drain check, the unlock.  Leaves s at 0. */
inline block_start()
{
	won = false;
	s = state;			/* rd_load */
	if
	:: (s & ST_MASK) == ST_OPEN ->
#if LOCKED
		block_lock(LK_DAEMON);
#endif
		s = state;		/* block_flip: rd_load */
		do
		:: (s & ST_MASK) == ST_OPEN ->
			atomic {	/* rd_cas(state, &s, RUNDOWN) */
				if
				:: state == s ->
					state = (s & ~ST_MASK) | ST_RUNDOWN;
					s = state;
					won = true;
					CRASHABLE(true);
					break
				:: else -> s = state
				fi
			}
		:: else -> break
		od;
		if
		:: won -> harvest_all()
		:: else -> s = 0
		fi
#if LOCKED
		;
		block_unlock()
#endif
	:: else -> s = 0
	fi;
	won = false
}

/* block_completed(b) */
inline block_completed()
{
	s = state;			/* rd_load */
	do
	:: (s & ST_MASK) == ST_DRAINED ->
		atomic {		/* rd_cas(state, &s, COMPLETED) */
			if
			:: state == s ->
				state = (s & ~ST_MASK) | ST_COMPLETED;
				break
			:: else -> s = state
			fi
		}
	:: else -> break		/* 0, -EALREADY or -EBUSY */
	od;
	s = 0
}

/* block_reinit(b) */
inline block_reinit()
{
#if LOCKED
	block_lock(LK_DAEMON);
#endif
	s = state;			/* rd_load */
	do
	:: (s & ST_MASK) == ST_DRAINED || (s & ST_MASK) == ST_COMPLETED ->
		atomic {		/* rd_cas(state, &s, RESETTING) */
			if
			:: state == s ->
				state = (s & ~ST_MASK) | ST_RESETTING;
				s = state;
				won = true;
				CRASHABLE(true);
				break
			:: else -> s = state
			fi
		}
	:: else -> break		/* -EALREADY or -EBUSY */
	od;
	if
	:: won -> won = false; block_reset()
	:: else -> s = 0
	fi
#if LOCKED
	;
	block_unlock()
#endif
}

/* registry_reclaim(blk, p) (registry_holder_exited, or adopt_one
 * for a process found gone): p's process is dead (or detached).  The row
 * is dropped, not settled: registry_release_row reads what it held for
 * the log (nobody writes the row any more), takes it out of the live
 * table and unmaps it; then registry_settle's block_settle, since a
 * run-down may have waited only for this row.  The row's words stay as
 * they were, and nothing reads them again (BROKEN 13 does). */
inline block_drop_row()
{
	/* block_row_held: loads of a row nobody else writes, one step here;
	 * what it returns is what the process held when it died (a forger's
	 * row says what it last wrote: checked for honest rows only).
	 * Never in a reset: the daemon is one thread, and a new rundownd
	 * reclaims only after block_recover has finished the reset that its
	 * predecessor left half done (in a half-done reset, row_total counts
	 * the last generation's at and rseq words again, as BROKEN 19
	 * shows). */
#ifndef NOROWCHECK
	atomic {
		r = p;
		assert(FORGED_ROW(p) || ROW_TOTAL(r) == held[p]);
		r = 0
	};
#endif
	atomic {	/* the live table; registry_release_row's ghosts */
#if BROKEN != 4			/* BROKEN 4: the row stays live */
		lv = lv & ~(1 << p);
#endif
		held[p] = 0;
		reclaimed[p] = true
	};
	block_settle()			/* registry_settle */
}

#if REUSE
/* registry_attach -> block_row_format(row, l, w), for row p lent to a new
 * process: all zero if the state word w read open, so that acquires
 * succeed; else drained (ACTIVE at words, rseq words 0, drain word
 * ROW_FLAGS), as if harvested with the rest, so that acquires fail and
 * the run-down does not wait for it (BROKEN 15: zero whatever w reads).
 * Then the row is live.  One step: the process maps the row only once
 * the daemon, alone on its thread, has written it and replied. */
inline block_row_format()
{
	s = state;			/* rd_load */
	if
#if BROKEN == 15
	:: true ->
#else
	:: (s & ST_MASK) == ST_OPEN ->
#endif
		SLOT(p, 0) = 0;
		SLOT(p, 1) = 0;
		drain[p] = 0
	:: else ->
		SLOT(p, 0) = SLOT_ACTIVE;
		SLOT(p, 1) = SLOT_ACTIVE;
		drain[p] = ROW_FLAGS
	fi;
	pc[p] = 0;
	lv = lv | (1 << p);
	s = 0
}
#endif

/* ---- processes -------------------------------------------------------- */

proctype client(byte me)
{
	short v, d;
	byte c, r, s, ops;
	bool ok, isclient = true;
#if BROKEN == 7
	byte lv = ALLROWS;	/* the rows it scans: all, as it once mapped */
#endif

	{
		do
		:: ops < (me == 0 -> NOPS : NOPS1) ->
			ops++;
			if		/* rundown_cache_acquire */
#if RSEQ
			:: RSEQ_PATH -> rseq_add(1)	/* the rseq path */
#endif
			:: ATOMIC_PATH -> PICK(c);	/* the atomic one */
				block_slot_acquire()
			fi;
			if
			:: ok ->
				ok = false;
				if	/* rundown_cache_release */
#if RSEQ
				:: RSEQ_PATH -> rseq_add(-1);
					if
					:: ok -> ok = false
					:: else -> block_release_slow()
					fi
#endif
				:: ATOMIC_PATH -> PICK(c); /* CPU again */
					block_slot_release();
					if
					:: ok -> ok = false
					:: else -> block_release_slow()
					fi
				fi
			:: else
			fi;
			c = 0
		:: else -> break
		od;
		done[me] = true
	} unless { killed[me] }
#if REUSE
	;
	exited[me] = true		/* the row can go to a new process */
#endif
}

#if FORGE
/* A hostile process on row 1 (FORGE).  It calls no library function but
 * writes its own row, which it maps read-write: any word, at any step,
 * NFORGE times at most (NFORGE 0: as often as it likes); then it stops
 * (done[1]), if ever.  It cannot write the
 * header or another row, which it does not map (BROKEN 12: it writes
 * client 0's row as well, as when every process mapped every row).  The
 * values: 0 (a fresh row); ROW_FLAGS (drained); harvested owing -1
 * (forged, what row_forged() catches); harvested owing 3 (a holder: the
 * run-down waits for it until it dies and is reclaimed); an ACTIVE at
 * word counting 1; an open at word counting 1 (it reopens a switched
 * slot, block_reset leaves it); an rseq word of -3 (the harvest's sum
 * goes below zero, and the row reads forged); NFORGE 0, an open at word
 * counting 0 too (with the one counting 1, in turn, it kept the CAS loop
 * that block_switch was retrying: BROKEN 16). */
proctype forger(byte me)
{
	byte n, t = me;

	{
		do
#if NFORGE > 0
		:: n < NFORGE ->
			n++;
#else
		:: true ->		/* NFORGE 0: without bound */
#endif
#if BROKEN == 12
			if :: t = 0 :: t = me fi;
#endif
			if
			:: drain[t] = 0
			:: drain[t] = ROW_FLAGS
			:: drain[t] = -ROW_UNIT + ROW_HARVESTED
			:: drain[t] = 3 * ROW_UNIT + ROW_HARVESTED
			:: SLOT(t, 0) = SLOT_UNIT + SLOT_ACTIVE
			:: SLOT(t, 0) = SLOT_UNIT
#if NFORGE == 0
			:: SLOT(t, 0) = 0
#endif
			:: pc[t] = -3
			fi;
			t = me
		:: break
		od;
		done[me] = true
	} unless { killed[me] }
}
#endif

/* SIGKILL at any step of client 0 (the rows are alike, so one death is
 * as good as any), or FORGE of the forger, stopped or not (client 0 is
 * honest and lives on); MAXDEAD 0 turns it off. */
active proctype killer()
{
end:
	atomic {
		ndead < MAXDEAD && (FORGE || !done[VICTIM]) ->
		killed[VICTIM] = true;
		sec[VICTIM] = SEC_OUT;
		livehold = livehold - held[VICTIM];
		ndead++
	}
}

/* rundownd (or, LOCKED, the starter) dies at any step of a harvest or a
 * re-initialize (MAXCRASH times); a new rundownd adopts the block, or
 * (LOCKED) the waiter finishes the work under the lock. */
active proctype crasher()
{
end:
	atomic {
		crashable && ST == CRASHIN && ncrash < MAXCRASH ->
		crash = true;
		ncrash++
	}
}

active proctype daemon()
{
	short v, d, sum;
	byte c, r, s, p, resets, lv = ALLROWS;
	bool won, isclient, lost;

	atomic {
		p = 0;
		do
#if FORGE
		:: p < NP && FORGED_ROW(p) -> run forger(p); p++
		:: p < NP && !FORGED_ROW(p) -> run client(p); p++
#else
		:: p < NP -> run client(p); p++
#endif
		:: else -> break
		od;
		p = 0
	};
#if MAXCRASH > 0
restart:
	{
#if !LOCKED
		if
		:: atomic { ncrash > 0 -> busy = true };
			/* adopt_one: every recorded row mapped and
			 * live again (lv, the rows of processes gone
			 * included), and each owner looked up
			 * (adopt_row: `lost', the C's gone[], if its
			 * process is dead); then block_recover, with every
			 * recorded row live; then the rows of the processes
			 * gone reclaimed (registry_reclaim: block_drop_row).
			 * A process that dies after its look-up is watched,
			 * and reclaimed by the loop below.  BROKEN 19: the
			 * order before commit 2c9c59a, the rows of the
			 * processes gone reclaimed before block_recover. */
			lost = killed[VICTIM] && !reclaimed[VICTIM];
#if BROKEN == 19
			if
			:: lost -> lost = false; p = VICTIM;
				block_drop_row();
				p = 0
			:: else
			fi;
#endif
			block_recover();
			if
			:: lost -> lost = false; p = VICTIM;
				block_drop_row();
				p = 0
			:: else
			fi;
			busy = false
		:: else
		fi;
#endif
#endif
end:
		do
		:: atomic { runs < MAXRUN ->	/* registry_wait */
			runs++; busy = true };
			block_start();
			CRASHABLE(false);
			busy = false
		:: atomic { ST == ST_DRAINED -> busy = true };
			block_completed();	/* PROTO_COMPLETED */
			busy = false
		:: atomic { resets < MAXRUN - 1 && !gone &&
		    (ST == ST_DRAINED || ST == ST_COMPLETED) ->
			resets++; busy = true };	/* PROTO_REINIT */
			block_reinit();
			CRASHABLE(false);
			busy = false
#if !LOCKED
		:: atomic { killed[VICTIM] && !reclaimed[VICTIM] ->
			p = VICTIM; busy = true };
			/* registry_holder_exited -> registry_reclaim */
			block_drop_row();
			p = 0;
			busy = false
#endif
#if REUSE
		:: atomic {	/* PROTO_ATTACH: a new process, on row 0 */
			!gone && !reused && reclaimed[0] && exited[0] ->
			p = 0;
			block_row_format();
			reused = true;		/* ghosts: a new process */
			killed[0] = false;
			reclaimed[0] = false;
			done[0] = false;
			exited[0] = false;
			run client(0)
		   }
#endif
		:: atomic { ST == ST_RUNDOWN -> busy = true };
			block_settle();		/* registry_settle */
			busy = false
		:: atomic {			/* PROTO_FREE: the block goes */
			!gone && !scanning && runs == MAXRUN &&
			(ST == ST_DRAINED || ST == ST_COMPLETED) ->
			gone = true
		   }
		od
#if MAXCRASH > 0
	} unless {
		atomic {	/* a new rundownd: nothing in its locals
				 * but lv, read back from the owners' object */
			crash ->
			crash = false; crashable = false; busy = false;
			adding = false;
			v = 0; d = 0; sum = 0; c = 0; r = 0; s = 0; p = 0;
			won = false;
#if LOCKED
			/* The starter is gone for good; its robust lock is
			 * free, for the next taker (EOWNERDEAD). */
			if
			:: lock == LK_DAEMON -> lock = 0
			:: else
			fi
#endif
		}
	};
#if !LOCKED
	goto restart
#endif
#endif
}

/* A second party on the waiting side, concurrent with the daemon: a
 * thread of the owner in block_wait (a library block may have several
 * such waiters) scanning the rows and ending the run-down, WAITSCANS
 * times.  Its scan may be late, the run-down it read long ended and a new
 * one begun, which the generation in the drain CAS is for.  A shared
 * block's clients no longer scan (they map no row but their own, and the
 * header read-only, and ask rundownd to wait), so without LOCKED it
 * stands for a late check by any party: a scan and the CAS on a word read
 * before it, as block_check_drained makes them (harvest_all's), and as
 * block_wait does when its sleep times out (block_undrained, then
 * block_end_rundown on the word read before the sleep).  Off (0) but in
 * the reinit and lock configurations of check-model.sh, where a late scan
 * can matter, or where it finishes a dead starter's work: it multiplies
 * the states.
 * It takes every row as live (its lv), which holds where no process dies,
 * is reused or forges.
 *
 * LOCKED: the whole block_wait from a RUNDOWN word on: the loop that,
 * while a row is not harvested (block_busy), takes and drops the lock
 * (block_settle_lock: block_lock recovers, fence included, and a fence
 * that fails leaves it for the next turn of the loop), and otherwise
 * sleeps on the first undrained row's futex (until its word changes)
 * and, once a scan finds every row done, ends the run-down with
 * block_end_rundown; then the owner may free the block. */
#ifndef WAITSCANS
#define WAITSCANS 0
#endif
#if WAITSCANS > 0 && (MAXDEAD > 0 || REUSE || FORGE)
#error "the waiter takes every row as live: no deaths, reuse or forger"
#endif
active proctype waiter()
{
	short v, d, sum, dv;
	byte c, r, s, w, n, lv = ALLROWS;
	bool isclient;

end:
	do
	:: atomic { n < WAITSCANS && ST == ST_RUNDOWN -> scanning = true };
		n++;
		s = state;		/* rd_load */
#if LOCKED
		w = s;
		do		/* while (s == (gen | RUNDOWN)) */
		:: (s & ST_MASK) != ST_RUNDOWN || s != w -> break
		:: else ->
			r = 0;	/* block_busy: a live row not harvested */
			do
			:: r < NP &&
			    (!LIVE(r) || (drain[r] & ROW_HARVESTED)) -> r++
			:: else -> break
			od;
			if
			:: r < NP -> r = 0;	/* block_settle_lock; again
						 * while a fence fails */
				block_lock(LK_WAITER);
				block_unlock();
				s = state	/* rd_load */
			:: else ->
			r = 0;	/* block_undrained */
			do
			:: r == NP -> break
			:: r < NP && !SCANNED(r) -> r++
			:: r < NP && SCANNED(r) ->
				dv = drain[r];	/* rd_load */
				if
				:: ROWDONE(dv) -> r++
				:: else -> break
				fi
			od;
			if
			:: r == NP -> r = 0; dv = 0;
#if BROKEN == 17
				block_check_drained();
				s = state	/* rd_load */
#else
				block_end_rundown()	/* s: the word now */
#endif
			:: else ->	/* futex_wait(row r, dv) */
				(drain[r] != dv);
				r = 0;
				dv = 0;
				s = state	/* rd_load */
			fi
			fi
		od;
		s = 0;
		w = 0;
		scanning = false;
		if		/* the owner frees what the block guarded */
		:: atomic {
			!gone && runs == MAXRUN && (ST == ST_DRAINED ||
			ST == ST_COMPLETED) -> gone = true
		   }
		:: skip
		fi
#else
		block_check_drained();
		scanning = false
#endif
	od
}

/* Invariants, checked in every state the other processes reach (the
 * monitor stays blocked, and so out of the liveness check's way). */
#define DRAINED_OK ((ST != ST_DRAINED && ST != ST_COMPLETED) || livehold == 0)
#ifdef NOROWCHECK	/* the self-test: do the other properties fail? */
#define ROW_OK(i) true
#define HARV_OK(i) true
#else
#define ROW_OK(i) (killed[i] || FORGED_ROW(i) || ST == ST_RESETTING || \
    ROW_TOTAL(i) == held[i])
#define HARV_OK(i) (FORGED_ROW(i) || !(drain[i] & ROW_HARVESTED) || \
    ROW_COUNT(drain[i]) >= 0)
#endif
#if NP == 2
#define ROWS_OK (ROW_OK(0) && ROW_OK(1))
#else
#define ROWS_OK (ROW_OK(0) && ROW_OK(1) && ROW_OK(2))
#endif
#if NP == 2
#define HARVS_OK (HARV_OK(0) && HARV_OK(1))
#else
#define HARVS_OK (HARV_OK(0) && HARV_OK(1) && HARV_OK(2))
#endif

active proctype monitor()
{
end:
	atomic {
		!(DRAINED_OK && ROWS_OK && HARVS_OK) ->
		assert(DRAINED_OK);	/* no drain while protection is held */
		assert(ROWS_OK);	/* each row counts what its process holds */
		assert(HARVS_OK)	/* no harvested row owes below zero */
	}
}

/* Liveness: a run-down in progress ends once nothing is held or will be
 * (every client finished, or died and was reclaimed); and, stronger, every
 * run-down ends (every client here finishes or dies).  pan -a -f -N name;
 * pan compiled with -DNOCLAIM for the safety check. */
ltl quiet_drains { [] ((PENDING && QUIET) -> <> !PENDING) }
ltl rundown_ends { [] (PENDING -> <> !PENDING) }
ltl daemon_free { [] (busy -> <> !busy) }
