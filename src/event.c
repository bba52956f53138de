/* SPDX-License-Identifier: MIT */
/*
 * The backend-neutral event loop: an fd table, the fired list, timers and
 * stop. Backends (event_epoll.c, event_select.c) only say which fds are
 * ready; every callback is made from here.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "mem.h"

#ifdef HAVE_EPOLL
extern const struct event_backend event_backend_epoll;
#endif
extern const struct event_backend event_backend_select;

/*
 * The compiled-in backends, best first: "auto" takes the first one that
 * can watch setsize fds. epoll scales with the number of ready fds and
 * has no fd limit; select scans every fd and stops at FD_SETSIZE, so it
 * is the portable fallback (and a runtime option forces it, so tests
 * cover both).
 */
static const struct event_backend *const event_backends[] = {
#ifdef HAVE_EPOLL
	&event_backend_epoll,
#endif
	&event_backend_select,
	NULL
};

#define EV_NBACKENDS (sizeof event_backends / sizeof event_backends[0] - 1)

/* Timers further out than this (about 34 years) are clamped to it, so
 * the arithmetic on microseconds never overflows. */
#define EV_TIMER_MAX_MS (1LL << 40)

struct event_fd {
	int mask;                       /* EV_READABLE|EV_WRITABLE or EV_NONE */
	event_fd_proc *proc;            /* called when ready */
	void *data;                     /* passed to proc */
	unsigned long long reg_round;   /* round in which fd was registered
	                                 * from EV_NONE (see dispatch) */
};

struct event_timer {
	long long id;                   /* from el->next_timer_id */
	long long when_us;              /* due time, monotonic microseconds */
	event_timer_proc *proc;
	void *data;
	int deleted;                    /* deleted during the timer pass */
	unsigned long long ran_round;   /* last round it ran in */
	struct event_timer *next;
};

struct event_loop {
	const struct event_backend *backend;
	void *state;                    /* the backend's own */
	int setsize;                    /* fds are in [0, setsize) */
	struct event_fd *fds;           /* setsize entries */
	int *fired_fds;                 /* setsize entries, from poll */
	int *fired_masks;               /* setsize entries, from poll */
	struct event_timer *timers;     /* unordered list; there are few */
	long long next_timer_id;
	unsigned long long round;       /* event_process calls so far */
	int in_timers;                  /* inside the timer pass */
	int stop;                       /* event_stop was called */
	event_before_sleep_proc *before_sleep; /* or NULL */
	void *before_sleep_data;
	long long wait_limit_ms;        /* longest sleep this round, -1: none
	                                 * (event_limit_wait) */

	/* Busy polling (event_set_busy_poll). */
	long busy_us;                   /* spin budget; 0: off */
	int hot;                        /* the last poll found fds ready */
	unsigned busy_backoff;          /* waits to skip after a futile spin */
	unsigned busy_skip;             /* waits left to skip */
	unsigned long long busy_hits;  /* spins that found work */
	unsigned long long busy_misses; /* spins that ended empty */
};

/* After a futile spin, spinning is skipped for 1, 2, 4 ... up to this
 * many waits, so a loop whose peers are slow stops burning CPU on them. */
#define EV_BUSY_BACKOFF_MAX 64

/* Format an error message into err (EV_ERR_LEN), if err is not NULL. */
static void event_set_error(char *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
event_set_error(char *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err, EV_ERR_LEN, fmt, ap);
	va_end(ap);
}

/* Return the monotonic clock in microseconds. */
static long long
event_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Return the compiled-in backends' names, best first, NULL-terminated. */
const char *const *
event_backend_names(void)
{
	/* Constant, so callers on any thread may share it; the unit test
	 * checks each name opens a loop of that name. */
	static const char *const names[] = {
#ifdef HAVE_EPOLL
		"epoll",
#endif
		"select",
		NULL
	};

	return names;
}

/* Write "epoll, select" into buf (size len). */
static void
event_list_backends(char *buf, size_t len)
{
	size_t i, used = 0;
	int n;

	buf[0] = '\0';
	for (i = 0; i < EV_NBACKENDS && used < len; i++) {
		n = snprintf(buf + used, len - used, "%s%s", i > 0 ? ", " : "",
		    event_backends[i]->name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/*
 * Try to start backend b for setsize fds: fails (NULL, reason in err) if
 * setsize is beyond the backend's limit or the backend's create fails.
 */
static void *
event_try_backend(const struct event_backend *b, int setsize, char *err)
{
	char berr[EV_ERR_LEN];
	void *state;

	if (b->max_setsize > 0 && setsize > b->max_setsize) {
		event_set_error(err, "event loop size %d is beyond the %s "
		    "backend's limit of %d fds", setsize, b->name,
		    b->max_setsize);
		return NULL;
	}
	berr[0] = '\0';
	state = b->create(setsize, berr);
	if (state == NULL)
		event_set_error(err, "%s backend: %s", b->name,
		    berr[0] != '\0' ? berr : "could not start");
	return state;
}

/*
 * Make a loop for fds in [0, setsize) on the named backend, or for
 * NULL/"auto" the first compiled-in backend that starts and can watch
 * setsize fds (the first failure's reason is reported if none can).
 * Returns the loop (free with event_loop_free) or NULL with err filled.
 */
event_loop *
event_loop_create(int setsize, const char *backend, char *err)
{
	const struct event_backend *b = NULL;
	event_loop *el;
	void *state = NULL;
	char avail[EV_ERR_LEN / 2];
	size_t i;

	if (setsize <= 0) {
		event_set_error(err, "event loop size must be positive, not %d",
		    setsize);
		return NULL;
	}
	if (backend == NULL || strcmp(backend, "auto") == 0) {
		for (i = 0; i < EV_NBACKENDS; i++) {
			/* Keep the first reason, it is about the best one. */
			state = event_try_backend(event_backends[i], setsize,
			    i == 0 ? err : NULL);
			if (state != NULL) {
				b = event_backends[i];
				break;
			}
		}
		if (b == NULL)
			return NULL;
	} else {
		for (i = 0; i < EV_NBACKENDS; i++) {
			if (strcmp(event_backends[i]->name, backend) == 0) {
				b = event_backends[i];
				break;
			}
		}
		if (b == NULL) {
			event_list_backends(avail, sizeof avail);
			event_set_error(err, "unknown event backend '%.64s' "
			    "(available: %s)", backend, avail);
			return NULL;
		}
		state = event_try_backend(b, setsize, err);
		if (state == NULL)
			return NULL;
	}

	el = mem_calloc(1, sizeof *el);
	el->backend = b;
	el->state = state;
	el->setsize = setsize;
	el->wait_limit_ms = -1;
	el->fds = mem_calloc((size_t)setsize, sizeof *el->fds);
	el->fired_fds = mem_calloc((size_t)setsize, sizeof *el->fired_fds);
	el->fired_masks = mem_calloc((size_t)setsize,
	    sizeof *el->fired_masks);
	return el;
}

/* Free el, its timers and its backend state; fds are not closed. */
void
event_loop_free(event_loop *el)
{
	struct event_timer *t, *next;

	if (el == NULL)
		return;
	for (t = el->timers; t != NULL; t = next) {
		next = t->next;
		mem_free(t);
	}
	el->backend->destroy(el->state);
	mem_free(el->fired_masks);
	mem_free(el->fired_fds);
	mem_free(el->fds);
	mem_free(el);
}

/* Return the name of el's backend ("epoll", "select"). */
const char *
event_backend_name(const event_loop *el)
{
	return el->backend->name;
}

/* Return the number of fds el can watch. */
int
event_setsize(const event_loop *el)
{
	return el->setsize;
}

/* ---- File events ---- */

/*
 * Add mask to fd's registered events and make proc/data its handler
 * (replacing any earlier one). Returns 0, or -1 with errno set: ERANGE if
 * fd is outside [0, setsize) or beyond what the backend can watch,
 * otherwise whatever the backend's system call said.
 */
int
event_add_fd(event_loop *el, int fd, int mask, event_fd_proc *proc,
    void *data)
{
	struct event_fd *fe;

	if (fd < 0 || fd >= el->setsize) {
		errno = ERANGE;
		return -1;
	}
	fe = &el->fds[fd];
	mask &= EV_READABLE | EV_WRITABLE;
	if ((mask & ~fe->mask) != 0) {
		if (el->backend->add(el->state, fd, fe->mask, mask) == -1)
			return -1;
		if (fe->mask == EV_NONE)
			fe->reg_round = el->round;
		fe->mask |= mask;
	}
	fe->proc = proc;
	fe->data = data;
	return 0;
}

/* Drop mask from fd's registered events; with nothing left, forget fd. */
void
event_del_fd(event_loop *el, int fd, int mask)
{
	struct event_fd *fe;
	int delmask;

	if (fd < 0 || fd >= el->setsize)
		return;
	fe = &el->fds[fd];
	delmask = fe->mask & mask;
	if (delmask == EV_NONE)
		return;
	el->backend->del(el->state, fd, fe->mask, delmask);
	fe->mask &= ~delmask;
	if (fe->mask == EV_NONE) {
		fe->proc = NULL;
		fe->data = NULL;
	}
}

/* Return fd's registered events (EV_NONE for an fd out of range). */
int
event_fd_mask(const event_loop *el, int fd)
{
	if (fd < 0 || fd >= el->setsize)
		return EV_NONE;
	return el->fds[fd].mask;
}

/* ---- Timers ---- */

/* Clamp a delay in ms to [0, EV_TIMER_MAX_MS]. */
static long long
event_clamp_ms(long ms)
{
	if (ms < 0)
		return 0;
	if ((long long)ms > EV_TIMER_MAX_MS)
		return EV_TIMER_MAX_MS;
	return ms;
}

/*
 * Run proc once ms milliseconds from now (a negative ms counts as 0) and
 * again whenever it returns a delay. Returns the timer's id. A timer
 * added from a timer callback first runs in a later round.
 */
long long
event_add_timer(event_loop *el, long ms, event_timer_proc *proc, void *data)
{
	struct event_timer *t;

	t = mem_calloc(1, sizeof *t);
	t->id = el->next_timer_id++;
	t->when_us = event_now_us() + event_clamp_ms(ms) * 1000;
	t->proc = proc;
	t->data = data;
	t->ran_round = 0;	/* passes have rounds from 1 */
	t->next = el->timers;
	el->timers = t;
	return t->id;
}

/*
 * Delete the timer with this id (an unknown id is ignored). Safe from any
 * callback: during the timer pass the timer is only marked, and the pass
 * frees it at its end.
 */
void
event_del_timer(event_loop *el, long long id)
{
	struct event_timer **tp, *t;

	for (tp = &el->timers; (t = *tp) != NULL; tp = &t->next) {
		if (t->id != id || t->deleted)
			continue;
		if (el->in_timers)
			t->deleted = 1;
		else {
			*tp = t->next;
			mem_free(t);
		}
		return;
	}
}

/* Return the ms until the nearest timer is due (0 if one is), or -1 if
 * there is no timer. Rounded up so a wait never ends before the due time. */
static int
event_timeout_ms(event_loop *el)
{
	struct event_timer *t;
	long long nearest = -1, now, ms;

	for (t = el->timers; t != NULL; t = t->next) {
		if (!t->deleted && (nearest == -1 || t->when_us < nearest))
			nearest = t->when_us;
	}
	if (nearest == -1) {
		ms = el->wait_limit_ms;
	} else {
		now = event_now_us();
		if (nearest <= now)
			return 0;
		ms = (nearest - now + 999) / 1000;
		if (el->wait_limit_ms >= 0 && el->wait_limit_ms < ms)
			ms = el->wait_limit_ms;
	}
	if (ms < 0)
		return -1;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/*
 * Run every due timer once, earliest due first (ties by id, i.e. by
 * creation). Timers created during the pass wait for the next round.
 * Timers may add and delete timers, themselves included. Returns how
 * many ran.
 */
static int
event_run_timers(event_loop *el)
{
	struct event_timer **tp, *t, *best;
	long long now, max_id = el->next_timer_id;
	long ret;
	int ran = 0;

	el->in_timers = 1;
	now = event_now_us();
	for (;;) {
		best = NULL;
		for (t = el->timers; t != NULL; t = t->next) {
			if (t->deleted || t->id >= max_id ||
			    t->ran_round == el->round || t->when_us > now)
				continue;
			if (best == NULL || t->when_us < best->when_us ||
			    (t->when_us == best->when_us && t->id < best->id))
				best = t;
		}
		if (best == NULL)
			break;
		best->ran_round = el->round;
		ret = best->proc(el, best->id, best->data);
		ran++;
		if (best->deleted)
			continue;	/* the proc deleted it */
		if (ret < 0)
			best->deleted = 1;
		else
			best->when_us = event_now_us() +
			    event_clamp_ms(ret) * 1000;
	}
	el->in_timers = 0;

	for (tp = &el->timers; (t = *tp) != NULL; ) {
		if (t->deleted) {
			*tp = t->next;
			mem_free(t);
		} else
			tp = &t->next;
	}
	return ran;
}

/* ---- The loop ---- */

/*
 * Poll without sleeping for up to busy_us microseconds, yielding the CPU
 * between polls to anything else runnable on it. Returns what the last
 * poll returned: > 0 if fds became ready, 0 if the budget ran out (and
 * spinning then backs off), -1 on a backend failure.
 */
static int
event_busy_poll(event_loop *el)
{
	long long deadline = event_now_us() + el->busy_us;
	int n;

	for (;;) {
		n = el->backend->poll(el->state, 0, el->fired_fds,
		    el->fired_masks);
		if (n != 0)
			break;
		if (event_now_us() >= deadline)
			break;
		sched_yield();
	}
	if (n > 0) {
		el->busy_backoff = 0;
		el->busy_hits++;
	} else if (n == 0) {
		el->busy_backoff = el->busy_backoff == 0 ? 1 :
		    el->busy_backoff * 2;
		if (el->busy_backoff > EV_BUSY_BACKOFF_MAX)
			el->busy_backoff = EV_BUSY_BACKOFF_MAX;
		el->busy_skip = el->busy_backoff;
		el->busy_misses++;
	}
	return n;
}

/*
 * Busy polling: when a round found work, the next wait first polls
 * without sleeping for up to usec microseconds before it blocks. A
 * request that arrives meanwhile is picked up without the sleep and
 * wake-up, which on a busy machine are most of a round trip's cost (and
 * the sender pays for the wake-up). 0 turns it off.
 */
void
event_set_busy_poll(event_loop *el, long usec)
{
	el->busy_us = usec > 0 ? usec : 0;
	el->busy_backoff = 0;
	el->busy_skip = 0;
}

void
event_limit_wait(event_loop *el, long long ms)
{
	if (ms >= 0 && (el->wait_limit_ms < 0 || ms < el->wait_limit_ms))
		el->wait_limit_ms = ms;
}

void
event_set_before_sleep(event_loop *el, event_before_sleep_proc *proc,
    void *data)
{
	el->before_sleep = proc;
	el->before_sleep_data = data;
}

/* Zero the counters event_busy_poll_stats reports. */
void
event_busy_poll_stats_reset(event_loop *el)
{
	el->busy_hits = 0;
	el->busy_misses = 0;
}

/* Spins that found work and spins that ran out, since the loop began
 * (or the last reset). */
void
event_busy_poll_stats(const event_loop *el, unsigned long long *hits,
    unsigned long long *misses)
{
	*hits = el->busy_hits;
	*misses = el->busy_misses;
}

/*
 * Wait until an fd is ready or the nearest timer is due (forever if there
 * are no timers), call the handlers of the ready fds, then run the due
 * timers. Handlers may add and delete fds and timers freely: each fd's
 * mask is read again just before its call, so an fd deleted by an earlier
 * handler in the same round is skipped, and an fd first registered during
 * this round is not handed the stale readiness of an fd that had its
 * number before. Returns the number of handler and timer calls, or -1 if
 * the backend failed (errno set).
 */
/* Call the handlers of the n descriptors the backend reported; returns
 * how many ran. Registrations made during this round are skipped (their
 * events are stale). */
static int
event_dispatch(event_loop *el, int n)
{
	struct event_fd *fe;
	int i, fd, mask, handled = 0;

	el->round++;
	for (i = 0; i < n; i++) {
		fd = el->fired_fds[i];
		fe = &el->fds[fd];
		mask = el->fired_masks[i] & fe->mask;
		if (mask == EV_NONE || fe->reg_round == el->round ||
		    fe->proc == NULL)
			continue;
		fe->proc(el, fd, fe->data, mask);
		handled++;
	}
	return handled;
}

int
event_process(event_loop *el)
{
	int n, timeout;

	el->wait_limit_ms = -1;
	if (el->before_sleep != NULL)
		el->before_sleep(el, el->before_sleep_data);
	timeout = el->stop ? 0 : event_timeout_ms(el);
	n = 0;
	if (timeout != 0 && el->hot && el->busy_us > 0) {
		if (el->busy_skip > 0)
			el->busy_skip--;
		else if ((n = event_busy_poll(el)) == 0)
			timeout = event_timeout_ms(el); /* the spin took time */
	}
	if (n == 0)
		n = el->backend->poll(el->state, timeout, el->fired_fds,
		    el->fired_masks);
	if (n < 0)
		return -1;
	el->hot = n > 0;
	n = event_dispatch(el, n);
	return n + event_run_timers(el);
}

int
event_process_files(event_loop *el)
{
	int n = el->backend->poll(el->state, 0, el->fired_fds,
	    el->fired_masks);

	return n < 0 ? -1 : event_dispatch(el, n);
}

/* Run rounds until event_stop(); 0, or -1 if the backend failed. The stop
 * flag is cleared on return, so the loop can be run again. */
int
event_run(event_loop *el)
{
	int rc = 0;

	while (!el->stop) {
		if (event_process(el) == -1) {
			rc = -1;
			break;
		}
	}
	el->stop = 0;
	return rc;
}

/* Make event_run return after the current round. */
void
event_stop(event_loop *el)
{
	el->stop = 1;
}
