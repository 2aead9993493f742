/* util.c: version, error and state names. */
#include "config.h"

#include <errno.h>

#include <rundown/rundown.h>

const char *
rundown_version_string(void)
{
	return RUNDOWN_VERSION_STRING;
}

int
rundown_version_major(void)
{
	return RUNDOWN_VERSION_MAJOR;
}

int
rundown_version_minor(void)
{
	return RUNDOWN_VERSION_MINOR;
}

int
rundown_version_micro(void)
{
	return RUNDOWN_VERSION_MICRO;
}

const char *
rundown_strerror(int err)
{
	/* Meanings in this library's terms; a static table, so thread-safe. */
	switch (err < 0 ? -err : err) {
	case 0:
		return "success";
	case EINVAL:
		return "invalid argument or uninitialized reference";
	case ENOSPC:
		return "no room (buffer too small, no free row, or too many blocks)";
	case EALREADY:
		return "no run-down has started";
	case EBUSY:
		return "protections are still outstanding";
	case ERANGE:
		return "release of more protections than are held";
	case ETIMEDOUT:
		return "timed out; the run-down stays in progress";
	case EPERM:
		return "not permitted (a caller's buffer to free, a row not "
		    "the caller's to detach, or a daemon of an untrusted user "
		    "or in a directory others may write)";
	case ESTALE:
		return "the block was freed since; its tag names another now";
	case ECANCELED:
		return "the block was removed by force (free --force) before "
		    "its run-down ended";
	case ENOMEM:
		return "out of memory";
	case ENOENT:
		return "no such block (or, for the default socket path, no "
		    "XDG_RUNTIME_DIR or HOME)";
	case EEXIST:
		return "a block with that tag exists";
	case ECONNREFUSED:
		return "no daemon listening on the socket";
	case EACCES:
		return "permission denied by the daemon (the block's owner and "
		    "mode) or the socket's directory";
	case EDQUOT:
		return "this process or user holds as many rows, or its user "
		    "owns as many blocks, as the daemon allows";
	case EPROTO:
		return "protocol error";
	case ECONNRESET:
		return "the daemon closed the connection";
	case ECHILD:
		return "inherited across fork(); attach anew in this process";
	case ENAMETOOLONG:
		return "socket path too long";
	case ENOTDIR:
	case ELOOP:
		return "the socket path runs through something not a directory";
	case EPROTOTYPE:
		return "the socket path is not a stream socket";
	case ENOTSOCK:
		return "the socket path names a file that is not a socket";
	case ESRCH:
		return "the process that connected has exited";
	case EUSERS:
		return "the daemon has as many connections as it allows, in all "
		    "or for this user";
	case EBADMSG:
		return "malformed request or reply";
	case EMSGSIZE:
		return "request or reply too long";
	default:
		return "unknown error";
	}
}

const char *
rundown_state_name(enum rundown_state state)
{
	switch (state) {
	case RUNDOWN_OPEN:
		return "open";
	case RUNDOWN_RUNNING_DOWN:
		return "running-down";
	case RUNDOWN_DRAINED:
		return "drained";
	case RUNDOWN_COMPLETED:
		return "completed";
	case RUNDOWN_RESETTING:
		return "resetting";
	}
	return "unknown";
}
