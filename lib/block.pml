/*
 * block.pml: a Promela model of the shared cache-aware block (block.c),
 * checked exhaustively with spin by tests/check-model.sh.
 *
 * What is modelled, step for step with the C code: NP client processes,
 * each with its own row of NC (2) slots, and rundownd, which alone starts,
 * harvests, completes, re-initializes and reclaims (src/registry.c runs all
 * of that on its loop's thread, so the daemon is one sequential process);
 * or (LOCKED) a library block, whose starter holds the robust run-down
 * lock.  Every atomic access of the C code (load, store, CAS,
 * fetch_sub/add/and) is one Promela step, in an atomic { } where it reads
 * and writes; control flow between them is as in C.  Exceptions: the
 * harvest's loads of a row's at and rseq words are one step, since by
 * then every at word of the row is ACTIVE, nobody else writes an ACTIVE
 * word, and after the fence no section commits (no interleaving can
 * tell); block_fence is one step (it returns only once every CPU was
 * interrupted or switched).  Spin explores interleavings, so the model is
 * sequentially consistent: it checks the algorithm, not the memory
 * orderings (those are argued in block.c and exercised under tsan).
 *
 * Words are encoded as in block.h: at (slot) = 2 x count | ACTIVE; row
 * drain word = 4 x count | DONE | HARVESTED; state = 8 x generation |
 * state.  Counts may be negative (two's complement, as the C code's
 * modular words read).  A row's rseq words are one word here, pc[row]:
 * only sections on a CPU add to its word, and everything else (harvest,
 * row_total, block_reset, block_reclaim_row) reads or writes them all
 * together while no section can commit, so which CPU a commit lands on
 * cannot matter, and one word saves the states of their distributions.
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
 *   killer       SIGKILL of client 0 (MAXDEAD 1) at any step, including
 *                between the load and the CAS of an acquire or release,
 *                inside an rseq section, and while it holds protection.
 *                The rows are alike, so one death stands for any.
 *   daemon       rundownd's loop, one handler at a time:
 *                registry_wait -> block_begin_harvest (block_begin's
 *                flip, then harvest_all: block_fence, block_harvest_row
 *                with block_switch for every row, block_check_drained);
 *                PROTO_COMPLETED -> block_completed;
 *                PROTO_REINIT -> block_reinit -> block_reset (drain flags,
 *                ACTIVE at words, rseq words, then OPEN);
 *                registry_holder_exited -> registry_reclaim ->
 *                block_row_free -> block_reclaim_row (block_row_held, then
 *                the settle or the reset of the row, block_check_drained);
 *                the watcher's poke -> registry_settle -> block_settle ->
 *                block_undrained and block_check_drained (releasers never
 *                end a run-down: the daemon does, for shared blocks).
 *                Once it has done all its run-downs and the block reads
 *                drained or completed, it may free the block (ghost
 *                `gone`): from then on no client may touch it.
 *                With MAXCRASH 1 it dies once anywhere in block_reset
 *                (CRASHIN ST_RESETTING) or between its flip and the end
 *                of its harvest, its fence included (ST_RUNDOWN), and a
 *                new daemon runs registry_adopt_one -> block_recover:
 *                block_reset again, or harvest_all again (fence, every
 *                row, block_check_drained).
 *                LOCKED: a process of a library block instead, with
 *                BLOCK_F_LOCK: block_begin_harvest takes the run-down lock
 *                (block_lock, which runs block_recover under it) before
 *                the flip and drops it after the harvest, block_reinit
 *                holds it throughout; no reclaim (MAXDEAD 0).  With
 *                MAXCRASH 1 it dies between flip and unlock and stays
 *                dead: its robust lock is free for the next taker
 *                (EOWNERDEAD), and the waiter finishes its work.
 *   waiter       a thread of the owner in block_wait (WAITSCANS times):
 *                a late scan and drain check; LOCKED, the whole wait
 *                (block_settle_lock, which takes the lock when a row is
 *                unharvested and so finishes a dead starter's fence and
 *                harvest; then the futex loop and the drain), after
 *                which the owner may free the block.
 *   crasher      kills rundownd, or the starter (MAXCRASH).
 *   monitor      invariants, checked in every reachable state.
 * Bounds: MAXRUN run-downs (and MAXRUN - 1 re-initializes between them).
 *
 * Not modelled: the futex (a waiter blocked on "word != s" wakes exactly
 * when the word changes, which is what futex_wake_all after every change
 * gives; waiters are answered when the word leaves gen|RUNDOWN, so the
 * model checks the word), several threads of one process (they share a
 * row; between them they only add CAS retries, and sections on other
 * CPUs, which the fence treats alike), a CPU the fence cannot reach
 * (fence_cpus' -EPERM), a row reused by a new process after reclaim, a
 * live process's detach (registry_detach also calls block_reclaim_row),
 * forked children (CACHE_FORKED), overflow of the modular counts,
 * wrap-around of the 29-bit generation, a timed wait, the private
 * block's block_wait that starts run-down itself, a library block's
 * re-initializer that dies (block_recover's reset under the lock: the
 * restart configuration checks that reset's repetition for rundownd).
 *
 * Properties:
 *   safety (assert): the RUNDOWN -> DRAINED CAS never succeeds, and the
 *     state never reads DRAINED or COMPLETED, while a live process holds a
 *     protection it was granted (so no wait returns early: only
 *     block_check_drained moves the word off gen|RUNDOWN); a harvested row
 *     never owes less than zero (no underflow: the "double release" branch
 *     of block_release_slow is never taken by correct clients); outside
 *     RESETTING each live row's total (row_total, what block_query adds up,
 *     rseq words included) equals what its process holds; no rseq commit
 *     lands on a harvested row or during a reset (the fence's promise);
 *     block_reclaim_row finds exactly what the dead process held; no
 *     client touches the block once the daemon or the owner freed it (the
 *     last release is the last touch: a releaser that is still running
 *     after its decisive write must not read or write the block, since
 *     the waiter may have returned and freed it); no deadlock (invalid
 *     end state).
 *   liveness (ltl quiet_drains, weak fairness): once every client has
 *     finished (released all it took) or died and been reclaimed, a
 *     run-down in progress ends: the state leaves RUNDOWN, which only the
 *     drain does.  rundown_ends, stronger (every run-down ends, since every
 *     client here finishes or dies), is there for checking by hand.
 *
 * BROKEN selects a deliberate bug, so that the self-test can show that the
 * properties fail when they should: 1 acquire ignores ACTIVE (no run-down
 * check); 2 the harvest leaves out the last slot of each row; 3 block_reset
 * zeroes the drain words (a repeated reset loses the residue of a release
 * that migrated across the first); 4 block_reclaim_row leaves a harvested
 * row's debt; 5 block_reset zeroes open slots too, as before commit
 * 3f13474 (spin finds the lost acquire after a restart); 6
 * block_check_drained's CAS ignores the generation; 7 a release that
 * drains its row goes on to scan the rows and end the run-down itself, as
 * before the last-touch rule (spin finds it reading the freed block); 8
 * no fence: the harvest reads the rseq words while a section that read
 * OPEN can still commit; 9 block_recover harvests without fencing again
 * (a restarted rundownd, or a waiter under the lock, trusts a fence the
 * dead party may not have reached); 10 block_reset leaves the rseq words
 * (the next harvest counts them again); 11 block_lock does not recover (a
 * dead starter's harvest is never finished).
 *
 * By hand: spin -a -DMAXRUN=2 -DMAXDEAD=0 block.pml &&
 *   cc -O1 -DSAFETY -DNOCLAIM -o pan pan.c && ./pan       (safety)
 *   cc -O1 -DNFAIR=3 -o pan pan.c && ./pan -a -f -N quiet_drains (liveness)
 *   spin -t -p -g -DMAXRUN=2 -DMAXDEAD=0 block.pml        (a trail)
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
/* row_settle(): DONE on a harvested row whose count reaches zero. */
#define ROW_SETTLE(d) (((d) & ROW_HARVESTED) && ROW_COUNT(d) == 0 -> \
    (d) | ROW_DONE : (d))

#define SLOT(r, c) slot[(r) * NC + (c)]
#define PICK(c) if :: c = 0 :: c = 1 fi

short slot[NP * NC];		/* the at words: slot[row][cpu] */
short pc[NP];			/* the rseq words of a row, summed */
short drain[NP];		/* row drain words */
byte state;			/* ST_OPEN, generation 0 */
#if LOCKED
/* The robust run-down lock: who holds it.  A holder's death frees it (the
 * next taker gets EOWNERDEAD, which block_lock treats as 0). */
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
byte ndead;
byte runs;			/* run-downs the daemon (or starter) began */
bool gone;			/* rundownd freed the block */
bool scanning;			/* the waiter is in block_check_drained */
bool crashable;			/* rundownd is in a harvest or re-initialize */
bool crash;			/* rundownd was killed */
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
#if NP == 2
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

/* block_check_drained(b, s): scan every row, then CAS RUNDOWN -> DRAINED
 * on the word read before the scan (futex_wake_all is the word change). */
inline block_check_drained()
{
	if
	:: (s & ST_MASK) != ST_RUNDOWN
	:: else ->
		r = 0;
		do
		:: r < NP ->
			if	/* rd_load(&row[r].drain) */
			:: atomic { ROW_DRAINED(drain[r]) -> TOUCH }; r++
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

/* rd_rseq_add(state, pc of row me, delta) (rseq.h): the restartable
 * sequence of cache_acquire and cache_release.  The CPU number (which
 * picks the rseq word: one per row here) and the state word are read at
 * its top; the add to that CPU's rseq word is the commit, one
 * instruction, which runs only if the kernel did not abort the section
 * since (by a fence; a preemption's abort only delays the commit).  An
 * aborted section starts again from the top.  ok: committed
 * (RD_RSEQ_DONE); else the state did not read OPEN (RD_RSEQ_CLOSED),
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
		 * correct clients never make (the C code refuses it). */
		assert(!(d & ROW_HARVESTED) || ROW_COUNT(d - ROW_UNIT) >= 0);
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
	skip
#else
	atomic {
		r = 0;
		do
		:: r < NP ->
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

/* block_switch(b, r, c): set ACTIVE, keep the count. */
inline block_switch()
{
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
}

/* block_harvest_row(b, r) */
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
	 * do, were the words local).  Without the fence (BROKEN 8, 9) a
	 * commit can still land between this step and the CAS below. */
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
	d = drain[r];			/* rd_load */
	do
	:: (d & ROW_HARVESTED) -> break
	:: else ->
		atomic {		/* rd_cas(drain, &d, settle(d + add)) */
			if
			:: drain[r] == d ->
				drain[r] = ROW_SETTLE(d + sum * ROW_UNIT +
				    ROW_HARVESTED);
				break
			:: else -> d = drain[r]
			fi
		}
	od;
	sum = 0;
	d = 0
}

/* harvest_all(b, s): the fence, every row's harvest, the drain check. */
inline harvest_all()
{
	block_fence();
	r = 0;
	do
	:: r < NP -> block_harvest_row(); r++
	:: else -> break
	od;
	block_check_drained()
}

/* block_reset(b, s): clear HARVESTED (keep the residue), zero the ACTIVE
 * at words and every rseq word, open the next generation. */
inline block_reset()
{
	r = 0;
	do
	:: r < NP ->
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
	:: r < NP ->
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
		:: r < NP -> block_harvest_row(); r++
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
		:: r < NP && (drain[r] & ROW_HARVESTED) -> r++
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

/* block_start(b) (block_begin_harvest): only an open block is started;
 * the lock, block_begin, the fence and the harvest of every row, the
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
		s = state;		/* block_begin: rd_load */
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

/* block_reclaim_row(b, p): p's process is dead, so only the daemon
 * writes the row. */
inline block_reclaim_row()
{
	d = drain[p];			/* rd_load */
	/* block_row_held: loads of a row nobody else writes, one step here;
	 * what it returns is what the process held when it died. */
#ifndef NOROWCHECK
	atomic {
		r = p;
		assert(ROW_TOTAL(r) == held[p]);
		r = 0
	};
#endif
	if
	:: (d & ROW_HARVESTED) ->
#if BROKEN == 4
		skip;			/* BROKEN 4: the debt is not settled */
#else
		drain[p] = ROW_FLAGS;	/* rd_store */
#endif
		s = state;		/* rd_load */
		block_check_drained()
	:: else ->
		c = 0;
		do
		:: c < NC ->
			SLOT(p, c) = 0;		/* rd_store */
			c++
		:: else -> break
		od;
		c = 0;
		pc[p] = 0;		/* rd_store of each */
		drain[p] = 0		/* rd_store */
	fi;
	d = 0;
	atomic {			/* registry_release_row: row is free */
		held[p] = 0;
		reclaimed[p] = true
	}
}

/* ---- processes -------------------------------------------------------- */

proctype client(byte me)
{
	short v, d;
	byte c, r, s, ops;
	bool ok, isclient = true;

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
}

/* SIGKILL at any step of client 0 (the rows are alike, so one death is
 * as good as any; MAXDEAD 0 turns it off). */
active proctype killer()
{
end:
	atomic {
		ndead < MAXDEAD && !done[0] ->
		killed[0] = true;
		sec[0] = SEC_OUT;
		livehold = livehold - held[0];
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
	byte c, r, s, p, resets;
	bool won, isclient;

	atomic {
		p = 0;
		do
		:: p < NP -> run client(p); p++
		:: else -> break
		od;
		p = 0
	};
#if MAXCRASH > 0
restart:
	{
#if !LOCKED
		if
		:: ncrash > 0 ->	/* registry_adopt_one */
			block_recover()
		:: else
		fi;
#endif
#endif
end:
		do
		:: runs < MAXRUN ->		/* registry_wait */
			runs++;
			block_start();
			CRASHABLE(false)
		:: ST == ST_DRAINED ->		/* PROTO_COMPLETED */
			block_completed()
		:: resets < MAXRUN - 1 && !gone &&
		    (ST == ST_DRAINED || ST == ST_COMPLETED) ->
			resets++;		/* PROTO_REINIT */
			block_reinit();
			CRASHABLE(false)
#if !LOCKED
		:: atomic { killed[0] && !reclaimed[0] -> p = 0 };
			/* registry_holder_exited -> registry_reclaim */
			block_reclaim_row();
			p = 0
#endif
		:: ST == ST_RUNDOWN ->		/* registry_settle */
			s = state;		/* rd_load */
			block_check_drained()
		:: atomic {			/* PROTO_FREE: the block goes */
			!gone && !scanning && runs == MAXRUN &&
			(ST == ST_DRAINED || ST == ST_COMPLETED) ->
			gone = true
		   }
		od
#if MAXCRASH > 0
	} unless {
		atomic {	/* a new rundownd: nothing in its locals */
			crash ->
			crash = false; crashable = false;
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
 * thread of the owner in block_wait (private blocks have several such
 * waiters) scanning the rows and ending the run-down, WAITSCANS times.
 * Its scan may be late, the run-down it read long ended and a new one
 * begun, which the generation in block_check_drained's CAS is for.  Off
 * (0) but in the reinit and lock configurations of check-model.sh, where
 * a late scan can matter, or where it finishes a dead starter's work:
 * it multiplies the states.
 *
 * LOCKED: the whole block_wait from a RUNDOWN word on: block_settle_lock
 * (block_busy: RUNDOWN with a row not harvested; then block_lock, which
 * recovers, and the unlock), then the loop that sleeps on the first
 * undrained row's futex (until its word changes) and ends the run-down
 * once every row is drained; then the owner may free the block. */
#ifndef WAITSCANS
#define WAITSCANS 0
#endif
active proctype waiter()
{
	short v, d, sum, dv;
	byte c, r, s, w, n;
	bool isclient;

end:
	do
	:: atomic { n < WAITSCANS && ST == ST_RUNDOWN -> scanning = true };
		n++;
		s = state;		/* rd_load */
#if LOCKED
		w = s;
		if		/* block_busy */
		:: (s & ST_MASK) == ST_RUNDOWN ->
			r = 0;
			do
			:: r < NP && (drain[r] & ROW_HARVESTED) -> r++
			:: else -> break
			od;
			if
			:: r < NP -> r = 0;	/* busy: block_settle_lock */
				block_lock(LK_WAITER);
				block_unlock()
			:: else -> r = 0
			fi
		:: else
		fi;
		s = w;
		do		/* while (s == (gen | RUNDOWN)) */
		:: (s & ST_MASK) != ST_RUNDOWN || s != w -> break
		:: else ->
			r = 0;	/* block_undrained */
			do
			:: r == NP -> break
			:: else ->
				dv = drain[r];	/* rd_load */
				if
				:: ROW_DRAINED(dv) -> r++
				:: else -> break
				fi
			od;
			if
			:: r == NP -> block_check_drained()
			:: else ->	/* futex_wait(row r, dv) */
				(drain[r] != dv);
				r = 0
			fi;
			dv = 0;
			s = state		/* rd_load */
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
#define ROW_OK(i) (killed[i] || ST == ST_RESETTING || ROW_TOTAL(i) == held[i])
#define HARV_OK(i) (!(drain[i] & ROW_HARVESTED) || ROW_COUNT(drain[i]) >= 0)
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
