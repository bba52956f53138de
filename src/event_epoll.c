/* SPDX-License-Identifier: MIT */
/*
 * The epoll event backend (Linux). Built only when configure finds epoll;
 * event.c lists it first.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "event.h"
#include "mem.h"

extern const struct event_backend event_backend_epoll;

struct epoll_state {
	int epfd;                       /* the epoll instance */
	int setsize;                    /* room in events */
	struct epoll_event *events;     /* filled by epoll_wait */
};

/* Make an epoll instance with room for setsize events; NULL + err. */
static void *
epoll_create_state(int setsize, char *err)
{
	struct epoll_state *st;
	int epfd;

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd == -1) {
		snprintf(err, EV_ERR_LEN, "epoll_create1: %s", strerror(errno));
		return NULL;
	}
	st = mem_alloc(sizeof *st);
	st->epfd = epfd;
	st->setsize = setsize;
	st->events = mem_calloc((size_t)setsize, sizeof *st->events);
	return st;
}

/* Close the epoll instance and free the state. */
static void
epoll_destroy(void *state)
{
	struct epoll_state *st = state;

	close(st->epfd);
	mem_free(st->events);
	mem_free(st);
}

/* Return the epoll event bits for an EV_ mask. */
static unsigned int
epoll_bits(int mask)
{
	unsigned int bits = 0;

	if (mask & EV_READABLE)
		bits |= EPOLLIN;
	if (mask & EV_WRITABLE)
		bits |= EPOLLOUT;
	return bits;
}

/*
 * Watch fd for oldmask|mask (oldmask is what is registered now). ADD for
 * a new fd, MOD for a known one; if the kernel disagrees (the fd was
 * closed and its number reused without a del), retry the other way.
 * Returns 0 or -1 with errno set.
 */
static int
epoll_add(void *state, int fd, int oldmask, int mask)
{
	struct epoll_state *st = state;
	struct epoll_event ee;
	int op;

	memset(&ee, 0, sizeof ee);
	ee.events = epoll_bits(oldmask | mask);
	ee.data.fd = fd;
	op = oldmask == EV_NONE ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	if (epoll_ctl(st->epfd, op, fd, &ee) == 0)
		return 0;
	if (op == EPOLL_CTL_ADD && errno == EEXIST)
		op = EPOLL_CTL_MOD;
	else if (op == EPOLL_CTL_MOD && errno == ENOENT)
		op = EPOLL_CTL_ADD;
	else
		return -1;
	return epoll_ctl(st->epfd, op, fd, &ee);
}

/* Stop watching fd for delmask (of oldmask). Errors are ignored: a closed
 * fd has already left the epoll set by itself. */
static void
epoll_del(void *state, int fd, int oldmask, int delmask)
{
	struct epoll_state *st = state;
	struct epoll_event ee;
	int mask = oldmask & ~delmask;

	memset(&ee, 0, sizeof ee);
	ee.events = epoll_bits(mask);
	ee.data.fd = fd;
	(void)epoll_ctl(st->epfd, mask != EV_NONE ? EPOLL_CTL_MOD :
	    EPOLL_CTL_DEL, fd, &ee);
}

/*
 * Wait up to timeout_ms (-1: forever) and store the ready fds and masks.
 * An error or hang-up reports both directions; event.c narrows that to
 * what the fd registered, so its handler meets the error in read or
 * write. Returns the count, 0 on timeout or EINTR, -1 on failure.
 */
static int
epoll_poll(void *state, int timeout_ms, int *fds, int *masks)
{
	struct epoll_state *st = state;
	unsigned int ev;
	int n, i, mask;

	n = epoll_wait(st->epfd, st->events, st->setsize, timeout_ms);
	if (n == -1)
		return errno == EINTR ? 0 : -1;
	for (i = 0; i < n; i++) {
		ev = st->events[i].events;
		mask = EV_NONE;
		if (ev & EPOLLIN)
			mask |= EV_READABLE;
		if (ev & EPOLLOUT)
			mask |= EV_WRITABLE;
		if (ev & (EPOLLERR | EPOLLHUP))
			mask |= EV_READABLE | EV_WRITABLE;
		fds[i] = st->events[i].data.fd;
		masks[i] = mask;
	}
	return n;
}

const struct event_backend event_backend_epoll = {
	.name = "epoll",
	.create = epoll_create_state,
	.destroy = epoll_destroy,
	.add = epoll_add,
	.del = epoll_del,
	.poll = epoll_poll,
	.max_setsize = 0,
};
