/* SPDX-License-Identifier: MIT */
/*
 * The event loop: file events and timers on one thread, over a backend
 * chosen at runtime (epoll where it exists, else select). Backends live in
 * event_epoll.c and event_select.c and only report which fds are ready;
 * dispatch happens here.
 */
#ifndef TMC_EVENT_H
#define TMC_EVENT_H

#include <stddef.h>

#define EV_NONE 0               /* no interest */
#define EV_READABLE 1           /* fd has data (or EOF/error) */
#define EV_WRITABLE 2           /* fd accepts writes (or error) */

#define EV_ERR_LEN 256          /* room for an error message */

typedef struct event_loop event_loop;

/* Called when fd is ready; mask tells which of the registered events
 * fired (an error or hang-up fires both registered directions so the
 * handler's read or write sees it). */
typedef void event_fd_proc(event_loop *el, int fd, void *data, int mask);

/* Called when a timer fires; returns the delay in ms until it should run
 * again, or -1 to delete it. */
typedef long event_timer_proc(event_loop *el, long long id, void *data);

/* A backend: one per file, everything else in it static. */
struct event_backend {
	const char *name;                                 /* "epoll" */
	void *(*create)(int setsize, char *err);          /* NULL on error */
	void (*destroy)(void *state);
	int (*add)(void *state, int fd, int oldmask, int mask); /* 0 / -1 */
	void (*del)(void *state, int fd, int oldmask, int delmask);
	/* Wait up to timeout_ms (-1 forever) and store the ready fds and
	 * masks in fds/masks (room for setsize). Returns how many are
	 * ready (0 on timeout or EINTR) or -1 on a fatal error. */
	int (*poll)(void *state, int timeout_ms, int *fds, int *masks);
	int max_setsize;                                  /* 0: no limit */
};

/*
 * Make a loop for fds in [0, setsize). backend is "epoll", "select", or
 * NULL/"auto" for the best one compiled in. NULL on error, with the
 * reason in err (an unknown backend, setsize beyond what the backend can
 * watch, or the OS refusing).
 */
event_loop *event_loop_create(int setsize, const char *backend, char *err);
void event_loop_free(event_loop *el);
const char *event_backend_name(const event_loop *el);
int event_setsize(const event_loop *el);

/* Names of the compiled-in backends, best first, NULL-terminated. */
const char *const *event_backend_names(void);

/* Register interest in mask for fd (added to any already registered);
 * one proc and data per fd. 0, or -1 with errno set (ERANGE when fd is
 * beyond setsize). */
int event_add_fd(event_loop *el, int fd, int mask, event_fd_proc *proc,
    void *data);
/* Drop interest in mask for fd; EV_READABLE|EV_WRITABLE forgets fd. */
void event_del_fd(event_loop *el, int fd, int mask);
int event_fd_mask(const event_loop *el, int fd);

/* Run proc after ms milliseconds; returns the timer id (>= 0). */
long long event_add_timer(event_loop *el, long ms, event_timer_proc *proc,
    void *data);
void event_del_timer(event_loop *el, long long id);

/* Wait for and dispatch one round of events (file events, then due
 * timers). Returns the number of events handled, or -1 if the backend
 * failed. */
int event_process(event_loop *el);

/* One round of file events only, without waiting, without the
 * before-sleep hook and timers (serving clients while the server is
 * busy loading its data). Returns the handlers run, or -1. */
int event_process_files(event_loop *el);

/* Before blocking after a round that found work, poll without sleeping
 * for up to usec microseconds (0: never), calling sched_yield() between
 * polls. A spin that finds nothing backs off. */
void event_set_busy_poll(event_loop *el, long usec);
void event_busy_poll_stats(const event_loop *el, unsigned long long *hits,
    unsigned long long *misses);
void event_busy_poll_stats_reset(event_loop *el);

/* Called at the start of every round, before the loop may sleep: work
 * that must happen before waiting (serving clients whose keys became
 * ready, writing the append-only file, a fast expiry pass). */
typedef void event_before_sleep_proc(event_loop *el, void *data);
void event_set_before_sleep(event_loop *el, event_before_sleep_proc *proc,
    void *data);

/* From the before-sleep hook: sleep at most ms this round (deadlines
 * that are not timers, such as blocked clients' timeouts). */
void event_limit_wait(event_loop *el, long long ms);

/* Run event_process until event_stop; 0, or -1 on a backend failure. */
int event_run(event_loop *el);
/* Make event_run return after the current round (loop thread only). */
void event_stop(event_loop *el);

#endif
