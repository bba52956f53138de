/* SPDX-License-Identifier: MIT */
/*
 * The select event backend: portable, always built, and limited to fds
 * below FD_SETSIZE. event.c lists it last.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/select.h>

#include "event.h"
#include "mem.h"

extern const struct event_backend event_backend_select;

struct select_state {
	fd_set rfds, wfds;              /* master sets: what is registered */
	fd_set rready, wready;          /* copies handed to select() */
	int maxfd;                      /* highest registered fd, or -1 */
};

/* Make the state; setsize was checked against FD_SETSIZE by event.c. */
static void *
select_create(int setsize, char *err)
{
	struct select_state *st;

	(void)setsize;
	(void)err;
	st = mem_alloc(sizeof *st);
	FD_ZERO(&st->rfds);
	FD_ZERO(&st->wfds);
	st->maxfd = -1;
	return st;
}

/* Free the state. */
static void
select_destroy(void *state)
{
	mem_free(state);
}

/* Watch fd for mask too. Returns 0, or -1 with errno ERANGE for an fd
 * that an fd_set cannot hold. */
static int
select_add(void *state, int fd, int oldmask, int mask)
{
	struct select_state *st = state;

	(void)oldmask;
	if (fd < 0 || fd >= FD_SETSIZE) {
		errno = ERANGE;
		return -1;
	}
	if (mask & EV_READABLE)
		FD_SET(fd, &st->rfds);
	if (mask & EV_WRITABLE)
		FD_SET(fd, &st->wfds);
	if (fd > st->maxfd)
		st->maxfd = fd;
	return 0;
}

/* Stop watching fd for delmask; lower maxfd if fd is gone. */
static void
select_del(void *state, int fd, int oldmask, int delmask)
{
	struct select_state *st = state;

	if (fd < 0 || fd >= FD_SETSIZE)
		return;
	if (delmask & EV_READABLE)
		FD_CLR(fd, &st->rfds);
	if (delmask & EV_WRITABLE)
		FD_CLR(fd, &st->wfds);
	if ((oldmask & ~delmask) == EV_NONE && fd == st->maxfd) {
		while (st->maxfd >= 0 && !FD_ISSET(st->maxfd, &st->rfds) &&
		    !FD_ISSET(st->maxfd, &st->wfds))
			st->maxfd--;
	}
}

/*
 * Wait up to timeout_ms (-1: forever) and store the ready fds and masks.
 * select() overwrites its sets, so it gets copies of the master sets.
 * Returns the count, 0 on timeout or EINTR, -1 on failure (errno set;
 * EBADF means an fd was closed without being deleted first).
 */
static int
select_poll(void *state, int timeout_ms, int *fds, int *masks)
{
	struct select_state *st = state;
	struct timeval tv, *tvp = NULL;
	int n, fd, mask, count = 0;

	memcpy(&st->rready, &st->rfds, sizeof st->rready);
	memcpy(&st->wready, &st->wfds, sizeof st->wready);
	if (timeout_ms >= 0) {
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		tvp = &tv;
	}
	n = select(st->maxfd + 1, &st->rready, &st->wready, NULL, tvp);
	if (n == -1)
		return errno == EINTR ? 0 : -1;
	for (fd = 0; fd <= st->maxfd; fd++) {
		mask = EV_NONE;
		if (FD_ISSET(fd, &st->rready))
			mask |= EV_READABLE;
		if (FD_ISSET(fd, &st->wready))
			mask |= EV_WRITABLE;
		if (mask == EV_NONE)
			continue;
		fds[count] = fd;
		masks[count] = mask;
		count++;
	}
	return count;
}

const struct event_backend event_backend_select = {
	.name = "select",
	.create = select_create,
	.destroy = select_destroy,
	.add = select_add,
	.del = select_del,
	.poll = select_poll,
	.max_setsize = FD_SETSIZE,
};
