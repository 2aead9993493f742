/*
 * rundownd.h: the map of the daemon: its files, and who calls whom.
 *
 *   rundownd.c  options, start-up order, signals, the event loop; wires
 *               the modules together by the callbacks below
 *   listener.c  the control socket: its directory checked, the lock
 *               file, bind or socket activation; put back at exit
 *   server.c    transport: the connections on it, peers and their
 *               credentials, limits, timeouts, frames in and out
 *   control.c   dispatch: one switch on the request type; calls the
 *               registry and builds every reply
 *   registry.c  the blocks by tag: shared memory, rows, the operations
 *               on them, pending waits; returns results, answers no one;
 *               touches a block only through lib/block.c's functions
 *               (the state word, header and rows are encoded there alone)
 *   adopt.c     the blocks a previous daemon left, taken back at start-up
 *               (registry_internal.h: what it shares with registry.c)
 *   watcher.c   drain-watcher threads and their notify pipe
 *   fencer.c    the thread that walks every CPU for a run-down's fence,
 *               its budget, and what it does when a CPU is not given up
 *   guard.c     the SIGBUS handler that keeps a client's ftruncate() of
 *               a block from killing the daemon
 *   closer.c    lanes of close(), one per uid, off the loop, for what a
 *               peer sent or queued (a close may wait as long as it chose)
 *   reaper.c    the processes that hold rows, watched through pidfds
 *   proc.c      a process's start time and name, from /proc
 *   notify.c    readiness and stopping, told to systemd (NOTIFY_SOCKET)
 *   log.c       messages
 *
 * Calls go down only (an arrow is "calls"; lib/ is librundown-core; the
 * arrows of a file that do not fit one line go on in a second line that
 * names the file again: tests/check-layers.sh reads only arrow lines):
 *
 *   rundownd --> listener, server, control, registry, adopt, watcher,
 *   rundownd --> reaper, fencer, notify, log, lib (client, util)
 *   control  --> server, registry, lib (proto)
 *   listener --> log
 *   server   --> closer, proc, log, lib (proto, fdpass, task)
 *   registry --> reaper, watcher, fencer, guard, log,
 *                lib (block, fence, proto, shmname, tag, util)
 *   adopt    --> registry, reaper, log,
 *                lib (block, shmname, tag, util)
 *   reaper   --> proc, log, lib (task)
 *   watcher  --> log, lib (futex)
 *   fencer   --> log, lib (fence)
 *   closer   --> log
 *   notify   --> log
 *
 * and events come back up through callbacks given at start, never by
 * name: server -> control (dispatch, closed; server_start), registry ->
 * control (a wait's end; registry_wait), watcher -> registry (a word
 * changed; watcher_new), fencer -> registry (a fence done, a walk
 * stalled; fencer_submit, fencer_init), reaper -> registry (a holder
 * exited; reaper_init).
 *
 * Everything runs on the event loop's thread except the watchers'
 * threads, which only sleep on a block's futex and poke the loop, the
 * fencer's, which only walks the CPUs (it touches no block) and pokes
 * the loop, the closer's, which only close() and touch nothing of the
 * loop's, and guard.c's handler, which runs on whichever thread faulted
 * in a block (a synchronous signal cannot go through the loop).
 */
#ifndef RUNDOWND_H
#define RUNDOWND_H

/* Nothing to declare: the map above is this header's job.  What the
 * daemon runs with is struct config, in conf.h. */

#endif /* RUNDOWND_H */
