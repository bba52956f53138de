/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the event loop, run once per compiled-in backend, and of
 * the socket helpers in net.c (loopback and Unix sockets only).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "net.h"
#include "tap.h"

extern const struct event_backend event_backend_select;

/* What an fd handler saw. */
struct rec {
	int calls;                      /* times called */
	int fd;                         /* fd of the last call */
	int mask;                       /* mask of the last call */
	int other;                      /* fd to delete, or -1 */
	int stop;                       /* call event_stop */
	int spare;                      /* fd to dup2 onto other */
	struct rec *reopened_rec;       /* record for the reused fd */
	char buf[16];                   /* what a read got */
	ssize_t got;                    /* what the last read returned */
};

static void
rec_init(struct rec *r)
{
	memset(r, 0, sizeof *r);
	r->fd = -1;
	r->other = -1;
	r->spare = -1;
	r->got = -2;
}

/* Record the call; delete r->other if set; stop if asked. */
static void
on_fd(event_loop *el, int fd, void *data, int mask)
{
	struct rec *r = data;

	r->calls++;
	r->fd = fd;
	r->mask = mask;
	if (r->other != -1)
		event_del_fd(el, r->other, EV_READABLE | EV_WRITABLE);
	if (r->stop)
		event_stop(el);
}

/* Record the call and read what is there (0 at EOF). */
static void
on_fd_read(event_loop *el, int fd, void *data, int mask)
{
	struct rec *r = data;

	(void)el;
	r->calls++;
	r->fd = fd;
	r->mask = mask;
	r->got = read(fd, r->buf, sizeof r->buf);
}

/* Once: delete r->other, put the (empty) r->spare under its number, as
 * a new connection taking a closed one's fd would, and register that. */
static void
on_fd_reopen(event_loop *el, int fd, void *data, int mask)
{
	struct rec *r = data;

	r->calls++;
	r->fd = fd;
	r->mask = mask;
	if (r->other == -1)
		return;		/* done already */
	event_del_fd(el, r->other, EV_READABLE | EV_WRITABLE);
	if (dup2(r->spare, r->other) == -1)
		return;
	event_add_fd(el, r->other, EV_READABLE, on_fd, r->reopened_rec);
	r->other = -1;
}

/* Set *(int *)data and go away. */
static long
on_guard(event_loop *el, long long id, void *data)
{
	(void)el;
	(void)id;
	*(int *)data = 1;
	return -1;
}

/* Run one round of the loop, with a guard timer of ms so it cannot block
 * for ever. Returns event_process's result minus the guard's call. */
static int
one_round(event_loop *el, long ms)
{
	int fired = 0, n;
	long long id;

	id = event_add_timer(el, ms, on_guard, &fired);
	n = event_process(el);
	if (!fired)
		event_del_timer(el, id);
	else if (n > 0)
		n--;
	return n;
}

/* ---- Timers ---- */

struct timer_log {
	long long ids[16];              /* ids in the order they fired */
	int n;
	int repeat_left;                /* repeats to go for on_repeat */
	long long victim;               /* timer to delete, or -1 */
	int stop_at;                    /* call event_stop at this entry */
};

static void
timer_log_init(struct timer_log *tl)
{
	memset(tl, 0, sizeof *tl);
	tl->victim = -1;
	tl->stop_at = -1;
}

/* Log the call; stop the loop at stop_at; run once. */
static long
on_log(event_loop *el, long long id, void *data)
{
	struct timer_log *tl = data;

	if (tl->n < 16)
		tl->ids[tl->n] = id;
	tl->n++;
	if (tl->victim != -1) {
		event_del_timer(el, tl->victim);
		tl->victim = -1;
	}
	if (tl->n == tl->stop_at)
		event_stop(el);
	return -1;
}

/* Log the call and run again in 5 ms while repeat_left lasts. */
static long
on_repeat(event_loop *el, long long id, void *data)
{
	struct timer_log *tl = data;

	(void)el;
	if (tl->n < 16)
		tl->ids[tl->n] = id;
	tl->n++;
	return tl->repeat_left-- > 0 ? 5 : -1;
}

/* Log the call and run again at once while repeat_left lasts. */
static long
on_repeat_now(event_loop *el, long long id, void *data)
{
	struct timer_log *tl = data;

	(void)el;
	(void)id;
	tl->n++;
	return tl->repeat_left-- > 0 ? 0 : -1;
}

/* Delete itself, then ask to run again (which must not happen). */
static long
on_self_delete(event_loop *el, long long id, void *data)
{
	struct timer_log *tl = data;

	tl->n++;
	event_del_timer(el, id);
	return 1;
}

/* Stop the loop. */
static long
on_stop(event_loop *el, long long id, void *data)
{
	(void)id;
	(void)data;
	event_stop(el);
	return -1;
}

/* Count calls; keep running every ms. */
static long
on_count(event_loop *el, long long id, void *data)
{
	(void)el;
	(void)id;
	(*(int *)data)++;
	return 2;
}

/* Return the monotonic clock in ms. */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
test_timers(const char *be)
{
	char err[EV_ERR_LEN];
	struct timer_log tl, tl2;
	event_loop *el;
	long long a, b, c, d, t0;
	int i, n, count = 0;

	el = event_loop_create(64, be, err);
	if (!ok(el != NULL, "%s: loop for timers", be))
		return;

	/* Fire in due order, whatever the order of creation. */
	timer_log_init(&tl);
	tl.stop_at = 4;
	t0 = now_ms();
	a = event_add_timer(el, 30, on_log, &tl);
	b = event_add_timer(el, 10, on_log, &tl);
	c = event_add_timer(el, 20, on_log, &tl);
	d = event_add_timer(el, 40, on_log, &tl);
	ok(a >= 0 && b > a && c > b && d > c, "%s: timer ids grow", be);
	is_int(event_run(el), 0, "%s: event_run returns 0 after a stop", be);
	is_int(tl.n, 4, "%s: four timers fired", be);
	ok(tl.ids[0] == b && tl.ids[1] == c && tl.ids[2] == a &&
	    tl.ids[3] == d, "%s: timers fired in due order (10, 20, 30, 40)",
	    be);
	ok(now_ms() - t0 >= 40, "%s: not before they were due (%lld ms)", be,
	    now_ms() - t0);

	/* Repeat while returning a delay; -1 deletes. */
	timer_log_init(&tl);
	tl.repeat_left = 3;
	a = event_add_timer(el, 0, on_repeat, &tl);
	timer_log_init(&tl2);
	tl2.stop_at = 1;
	event_add_timer(el, 100, on_log, &tl2);
	is_int(event_run(el), 0, "%s: run until the 100 ms timer", be);
	is_int(tl.n, 4, "%s: repeating timer ran 1 + 3 times, then -1 "
	    "deleted it", be);
	ok(tl.ids[0] == a && tl.ids[3] == a, "%s: same id on each repeat", be);

	/* A timer deleting another one due in the same round, one deleting
	 * itself, and one deleted from outside before it is due. */
	timer_log_init(&tl);
	timer_log_init(&tl2);
	a = event_add_timer(el, 0, on_log, &tl);
	b = event_add_timer(el, 0, on_log, &tl);
	tl.victim = b;
	event_add_timer(el, 0, on_self_delete, &tl2);
	c = event_add_timer(el, 5, on_log, &tl2);
	event_del_timer(el, c);
	event_del_timer(el, 123456);	/* unknown: ignored */
	usleep(2000);
	n = one_round(el, 50);
	is_int(tl.n, 1, "%s: timer deleted by an earlier one in the round "
	    "did not run", be);
	ok(tl.ids[0] == a, "%s: the earlier one ran", be);
	is_int(n, 2, "%s: event_process counted 2 timer calls", be);
	for (i = 0; i < 3; i++)
		one_round(el, 10);
	is_int(tl2.n, 1, "%s: self-deleted timer ran once; a deleted timer "
	    "never", be);

	/* A timer asking for 0 ms runs once per round, not in a loop. */
	timer_log_init(&tl);
	tl.repeat_left = 1000;
	a = event_add_timer(el, 0, on_repeat_now, &tl);
	one_round(el, 50);
	is_int(tl.n, 1, "%s: a 0 ms repeat runs once in a round", be);
	one_round(el, 50);
	is_int(tl.n, 2, "%s: and again in the next", be);
	event_del_timer(el, a);
	one_round(el, 5);
	is_int(tl.n, 2, "%s: deleted from outside, it stops", be);

	/* event_stop from a timer ends event_run, after other rounds ran. */
	event_add_timer(el, 0, on_count, &count);
	event_add_timer(el, 30, on_stop, NULL);
	is_int(event_run(el), 0, "%s: event_run stopped by a timer", be);
	ok(count >= 3, "%s: a 2 ms timer ran %d times in 30 ms", be, count);
	event_loop_free(el);
}

/* ---- File events ---- */

static void
test_fds(const char *be)
{
	char err[EV_ERR_LEN];
	struct rec r1, r2, r3;
	event_loop *el;
	int p[2], s1[2], s2[2], n, flag;
	int fdlimit;

	el = event_loop_create(64, be, err);
	if (!ok(el != NULL, "%s: loop created", be))
		return;
	ok(strcmp(event_backend_name(el), be) == 0, "%s: backend name", be);
	is_int(event_setsize(el), 64, "%s: setsize", be);

	if (pipe(p) == -1 || socketpair(AF_UNIX, SOCK_STREAM, 0, s1) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, s2) == -1) {
		diag("pipe/socketpair: %s", strerror(errno));
		exit(1);
	}

	/* Range and mask bookkeeping. */
	rec_init(&r1);
	errno = 0;
	is_int(event_add_fd(el, 64, EV_READABLE, on_fd, &r1), -1,
	    "%s: fd == setsize refused", be);
	is_int(errno, ERANGE, "%s: with ERANGE", be);
	is_int(event_add_fd(el, -1, EV_READABLE, on_fd, &r1), -1,
	    "%s: negative fd refused", be);
	is_int(event_fd_mask(el, 64), EV_NONE, "%s: mask of out-of-range fd",
	    be);

	/* A pipe with data: readable, and only readable is reported. */
	if (write(p[1], "x", 1) != 1)
		diag("write: %s", strerror(errno));
	is_int(event_add_fd(el, p[0], EV_READABLE, on_fd, &r1), 0,
	    "%s: add pipe read end", be);
	is_int(event_fd_mask(el, p[0]), EV_READABLE, "%s: mask readable", be);
	n = one_round(el, 1000);
	is_int(n, 1, "%s: one event handled", be);
	is_int(r1.calls, 1, "%s: read handler called", be);
	is_int(r1.fd, p[0], "%s: with the pipe's fd", be);
	is_int(r1.mask, EV_READABLE, "%s: with EV_READABLE", be);

	/* The write end of an empty pipe: writable. */
	rec_init(&r2);
	is_int(event_add_fd(el, p[1], EV_WRITABLE, on_fd, &r2), 0,
	    "%s: add pipe write end", be);
	event_del_fd(el, p[0], EV_READABLE);
	is_int(event_fd_mask(el, p[0]), EV_NONE, "%s: read end deleted", be);
	rec_init(&r1);
	n = one_round(el, 1000);
	is_int(r2.calls, 1, "%s: write handler called", be);
	is_int(r2.mask, EV_WRITABLE, "%s: with EV_WRITABLE", be);
	is_int(r1.calls, 0, "%s: deleted fd not called", be);
	event_del_fd(el, p[1], EV_READABLE | EV_WRITABLE);

	/* A socket registered both ways, with data: both directions. */
	rec_init(&r1);
	if (write(s1[1], "ab", 2) != 2)
		diag("write: %s", strerror(errno));
	event_add_fd(el, s1[0], EV_READABLE, on_fd, &r1);
	event_add_fd(el, s1[0], EV_WRITABLE, on_fd, &r1);
	is_int(event_fd_mask(el, s1[0]), EV_READABLE | EV_WRITABLE,
	    "%s: masks add up", be);
	one_round(el, 1000);
	is_int(r1.mask, EV_READABLE | EV_WRITABLE, "%s: both directions "
	    "fired", be);
	is_int(r1.calls, 1, "%s: one call per fd per round", be);

	/* Dropping the writable interest leaves the readable one. */
	event_del_fd(el, s1[0], EV_WRITABLE);
	is_int(event_fd_mask(el, s1[0]), EV_READABLE, "%s: partial delete",
	    be);
	rec_init(&r1);
	one_round(el, 1000);
	is_int(r1.mask, EV_READABLE, "%s: only readable after dropping "
	    "writable", be);

	/* Nothing ready: a readable-only socket without data is not called. */
	if (read(s1[0], r1.buf, sizeof r1.buf) != 2)
		diag("read: %s", strerror(errno));
	rec_init(&r1);
	n = one_round(el, 20);
	is_int(r1.calls, 0, "%s: idle socket not called", be);
	is_int(n, 0, "%s: zero events on a timeout round", be);

	/* Both sockets ready; the first handler deletes the other one. */
	if (write(s1[1], "a", 1) != 1 || write(s2[1], "b", 1) != 1)
		diag("write: %s", strerror(errno));
	rec_init(&r1);
	rec_init(&r2);
	event_add_fd(el, s1[0], EV_READABLE, on_fd, &r1);
	event_add_fd(el, s2[0], EV_READABLE, on_fd, &r2);
	one_round(el, 1000);
	ok(r1.calls == 1 && r2.calls == 1, "%s: control: both fire when "
	    "nobody deletes", be);
	rec_init(&r1);
	rec_init(&r2);
	r1.other = s2[0];
	r2.other = s1[0];
	n = one_round(el, 1000);
	is_int(r1.calls + r2.calls, 1, "%s: fd deleted by another handler in "
	    "the same round is not called", be);
	is_int(n, 1, "%s: one event handled", be);
	event_del_fd(el, s1[0], EV_READABLE | EV_WRITABLE);
	event_del_fd(el, s2[0], EV_READABLE | EV_WRITABLE);
	close(s1[0]);
	close(s1[1]);
	close(s2[0]);
	close(s2[1]);
	close(p[0]);
	close(p[1]);

	/* A handler deletes a ready fd and registers a new one under its
	 * number: the new fd must not inherit the old readiness. Both
	 * handlers do it to the other, as either may run first. */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, s1) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, s2) == -1 || pipe(p) == -1) {
		diag("socketpair: %s", strerror(errno));
		exit(1);
	}
	rec_init(&r1);
	rec_init(&r2);
	rec_init(&r3);
	r1.other = s2[0];
	r1.spare = p[0];
	r1.reopened_rec = &r3;
	r2.other = s1[0];
	r2.spare = p[0];
	r2.reopened_rec = &r3;
	event_add_fd(el, s1[0], EV_READABLE, on_fd_reopen, &r1);
	event_add_fd(el, s2[0], EV_READABLE, on_fd_reopen, &r2);
	if (write(s1[1], "a", 1) != 1 || write(s2[1], "b", 1) != 1)
		diag("write: %s", strerror(errno));
	one_round(el, 1000);
	is_int(r1.calls + r2.calls, 1, "%s: only the first handler ran", be);
	is_int(r3.calls, 0, "%s: fd reused within the round gets no stale "
	    "event", be);
	rec_init(&r3);
	if (write(p[1], "c", 1) != 1)
		diag("write: %s", strerror(errno));
	one_round(el, 1000);
	is_int(r3.calls, 1, "%s: the reused fd gets its own events next round",
	    be);
	event_del_fd(el, s1[0], EV_READABLE);
	event_del_fd(el, s2[0], EV_READABLE);
	close(s1[0]);
	close(s1[1]);
	close(s2[0]);
	close(s2[1]);
	close(p[0]);
	close(p[1]);

	/* EOF makes a socket readable, and the read sees 0. */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, s2) == -1) {
		diag("socketpair: %s", strerror(errno));
		exit(1);
	}
	rec_init(&r1);
	event_add_fd(el, s2[0], EV_READABLE, on_fd_read, &r1);
	close(s2[1]);
	one_round(el, 1000);
	is_int(r1.calls, 1, "%s: peer close makes the socket readable", be);
	ok(r1.mask & EV_READABLE, "%s: with EV_READABLE", be);
	is_int(r1.got, 0, "%s: and read returns 0 (EOF)", be);
	event_del_fd(el, s2[0], EV_READABLE);

	/* A hang-up on a writable-only registration reports writable. */
	rec_init(&r1);
	event_add_fd(el, s2[0], EV_WRITABLE, on_fd, &r1);
	one_round(el, 1000);
	is_int(r1.calls, 1, "%s: hung-up socket reported", be);
	is_int(r1.mask, EV_WRITABLE, "%s: in its registered direction only",
	    be);
	event_del_fd(el, s2[0], EV_WRITABLE);
	close(s2[0]);

	/* event_stop from an fd handler ends event_run after that round. */
	if (pipe(p) == -1) {
		diag("pipe: %s", strerror(errno));
		exit(1);
	}
	flag = 0;
	event_add_timer(el, 2000, on_guard, &flag);
	if (write(p[1], "x", 1) != 1)
		diag("write: %s", strerror(errno));
	rec_init(&r1);
	r1.stop = 1;
	event_add_fd(el, p[0], EV_READABLE, on_fd, &r1);
	is_int(event_run(el), 0, "%s: event_run returns after stop", be);
	is_int(r1.calls, 1, "%s: one round ran", be);
	is_int(flag, 0, "%s: without waiting for the 2 s timer", be);
	event_del_fd(el, p[0], EV_READABLE);
	close(p[0]);
	close(p[1]);
	event_loop_free(el);

	/* fds up to FD_SETSIZE - 1 and above, where the limit allows. */
	{
		struct rlimit rl;

		fdlimit = 0;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
			fdlimit = rl.rlim_cur == RLIM_INFINITY ? 1 << 20 :
			    (int)(rl.rlim_cur > (1 << 20) ? 1 << 20 :
			    rl.rlim_cur);
	}
	if (fdlimit > FD_SETSIZE + 1) {
		int high = FD_SETSIZE;	/* just past what select can hold */

		if (pipe(p) == -1 || dup2(p[0], high) == -1) {
			diag("dup2 to %d: %s", high, strerror(errno));
		} else {
			el = event_loop_create(FD_SETSIZE + 8, be, err);
			if (strcmp(be, "select") == 0) {
				ok(el == NULL, "select: setsize %d refused",
				    FD_SETSIZE + 8);
			} else if (ok(el != NULL, "%s: loop beyond FD_SETSIZE",
			    be)) {
				rec_init(&r1);
				if (write(p[1], "x", 1) != 1)
					diag("write: %s", strerror(errno));
				is_int(event_add_fd(el, high, EV_READABLE,
				    on_fd, &r1), 0, "%s: fd %d accepted", be,
				    high);
				one_round(el, 1000);
				is_int(r1.fd, high, "%s: fd %d fired", be, high);
				event_loop_free(el);
			}
			if (strcmp(be, "select") == 0) {
				el = event_loop_create(FD_SETSIZE, be, err);
				errno = 0;
				is_int(event_add_fd(el, high, EV_READABLE, on_fd,
				    &r1), -1, "select: fd %d (FD_SETSIZE) "
				    "refused", high);
				is_int(errno, ERANGE, "select: with ERANGE");
				event_loop_free(el);
			}
			close(high);
			close(p[0]);
			close(p[1]);
		}
	} else
		diag("RLIMIT_NOFILE %d too low for an fd >= FD_SETSIZE; the "
		    "backend check is tested directly", fdlimit);
}

/* ---- Backend selection ---- */

static void
test_backend_choice(void)
{
	const char *const *names = event_backend_names();
	char err[EV_ERR_LEN], want[EV_ERR_LEN];
	event_loop *el;
	void *st;

#ifdef HAVE_EPOLL
	ok(names[0] != NULL && strcmp(names[0], "epoll") == 0 &&
	    names[1] != NULL && strcmp(names[1], "select") == 0 &&
	    names[2] == NULL, "backends: epoll, select");
	snprintf(want, sizeof want, "unknown event backend 'kqueue' "
	    "(available: epoll, select)");
#else
	ok(names[0] != NULL && strcmp(names[0], "select") == 0 &&
	    names[1] == NULL, "backends: select");
	snprintf(want, sizeof want, "unknown event backend 'kqueue' "
	    "(available: select)");
#endif
	el = event_loop_create(16, NULL, err);
	ok(el != NULL && strcmp(event_backend_name(el), names[0]) == 0,
	    "NULL picks the best backend");
	event_loop_free(el);
	el = event_loop_create(16, "auto", err);
	ok(el != NULL && strcmp(event_backend_name(el), names[0]) == 0,
	    "\"auto\" picks the best backend");
	event_loop_free(el);

	err[0] = '\0';
	el = event_loop_create(16, "kqueue", err);
	ok(el == NULL, "unknown backend refused");
	ok(strcmp(err, want) == 0, "unknown backend error text");
	if (strcmp(err, want) != 0)
		diag("got '%s'", err);

	err[0] = '\0';
	el = event_loop_create(FD_SETSIZE + 1, "select", err);
	ok(el == NULL, "select refuses setsize FD_SETSIZE + 1");
	snprintf(want, sizeof want, "%d", FD_SETSIZE);
	ok(strstr(err, want) != NULL && strstr(err, "select") != NULL,
	    "the error names the backend and its limit: %s", err);
	el = event_loop_create(FD_SETSIZE + 1, NULL, err);
#ifdef HAVE_EPOLL
	ok(el != NULL && strcmp(event_backend_name(el), "epoll") == 0,
	    "auto takes epoll for a big setsize");
#else
	ok(el == NULL, "auto with only select refuses a big setsize");
#endif
	event_loop_free(el);
	el = event_loop_create(FD_SETSIZE, "select", err);
	ok(el != NULL, "select takes setsize FD_SETSIZE");
	event_loop_free(el);
	ok(event_loop_create(0, NULL, err) == NULL, "setsize 0 refused");

	/* The select backend's own check, below event.c's range check. */
	st = event_backend_select.create(FD_SETSIZE, err);
	errno = 0;
	is_int(event_backend_select.add(st, FD_SETSIZE, EV_NONE, EV_READABLE),
	    -1, "select backend refuses fd FD_SETSIZE");
	is_int(errno, ERANGE, "with ERANGE");
	is_int(event_backend_select.add(st, FD_SETSIZE - 1, EV_NONE,
	    EV_READABLE), 0, "select backend takes fd FD_SETSIZE - 1");
	event_backend_select.del(st, FD_SETSIZE - 1, EV_READABLE, EV_READABLE);
	event_backend_select.destroy(st);
}

/* ---- net.c: TCP ---- */

/* Connect a blocking client to addr; -1 on failure. */
static int
connect_to(const struct sockaddr *sa, socklen_t len)
{
	int fd;

	fd = socket(sa->sa_family, SOCK_STREAM, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, sa, len) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Check fd is non-blocking and close-on-exec. */
static int
flags_ok(int fd)
{
	return (fcntl(fd, F_GETFL) & O_NONBLOCK) &&
	    (fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

static void
test_tcp(void)
{
	char err[NET_ERR_LEN], addr[NET_ADDR_LEN], want[NET_ADDR_LEN + 64];
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	socklen_t len;
	int lfd, lfd2, cfd, afd, port = 0, port2, nodelay;

	lfd = net_tcp_listen(err, "127.0.0.1", 0, 16, &port);
	if (!ok(lfd >= 0, "listen on 127.0.0.1:0")) {
		diag("%s", err);
		return;
	}
	ok(port > 0 && port < 65536, "bound_port %d", port);
	ok(flags_ok(lfd), "listener non-blocking and close-on-exec");
	ok(net_local_addr(err, lfd, addr) == 0, "net_local_addr");
	snprintf(want, sizeof want, "127.0.0.1:%d", port);
	ok(strcmp(addr, want) == 0, "local addr %s", addr);

	errno = 0;
	is_int(net_accept(err, lfd, addr), -1, "accept with none pending");
	ok(errno == EAGAIN || errno == EWOULDBLOCK, "with EAGAIN");

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cfd = connect_to((struct sockaddr *)&sin, sizeof sin);
	ok(cfd >= 0, "client connected");
	afd = net_accept(err, lfd, addr);
	if (ok(afd >= 0, "accepted")) {
		ok(flags_ok(afd), "accepted fd non-blocking and close-on-exec");
		nodelay = 0;
		len = sizeof nodelay;
		getsockopt(afd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len);
		ok(nodelay != 0, "TCP_NODELAY on the accepted fd");
		len = sizeof sin;
		getsockname(cfd, (struct sockaddr *)&sin, &len);
		snprintf(want, sizeof want, "127.0.0.1:%u",
		    (unsigned int)ntohs(sin.sin_port));
		ok(strcmp(addr, want) == 0, "peer addr %s (want %s)", addr,
		    want);
		if (write(cfd, "hi", 2) == 2) {
			char buf[4];
			ssize_t r;

			usleep(10000);
			r = read(afd, buf, sizeof buf);
			ok(r == 2 && memcmp(buf, "hi", 2) == 0,
			    "data flows over the accepted socket");
		}
		close(afd);
	}
	if (cfd >= 0)
		close(cfd);

	/* The same port again: refused, naming the address. */
	err[0] = '\0';
	port2 = -5;
	lfd2 = net_tcp_listen(err, "127.0.0.1", port, 16, &port2);
	is_int(lfd2, -1, "second listen on the same port fails");
	snprintf(want, sizeof want, "Could not bind 127.0.0.1:%d: %s", port,
	    strerror(EADDRINUSE));
	ok(strcmp(err, want) == 0, "error: %s", err);
	is_int(port2, -5, "bound_port untouched on failure");
	if (lfd2 >= 0)
		close(lfd2);
	close(lfd);

	err[0] = '\0';
	ok(net_tcp_listen(err, "127.0.0.1", 70000, 16, NULL) == -1 &&
	    err[0] != '\0', "port 70000 refused: %s", err);
	err[0] = '\0';
	ok(net_tcp_listen(err, "999.1.1.1", 0, 16, NULL) == -1 &&
	    strstr(err, "999.1.1.1") != NULL, "bad address refused: %s", err);

	/* IPv6 loopback, where the host has it. */
	lfd = net_tcp_listen(err, "::1", 0, 16, &port);
	if (lfd == -1) {
		diag("no IPv6 loopback (%s); IPv6 tests skipped", err);
		return;
	}
	ok(port > 0, "listen on [::1]:0 -> port %d", port);
	memset(&sin6, 0, sizeof sin6);
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons((unsigned short)port);
	sin6.sin6_addr = in6addr_loopback;
	cfd = connect_to((struct sockaddr *)&sin6, sizeof sin6);
	afd = net_accept(err, lfd, addr);
	if (ok(cfd >= 0 && afd >= 0, "IPv6 connection accepted")) {
		len = sizeof sin6;
		getsockname(cfd, (struct sockaddr *)&sin6, &len);
		snprintf(want, sizeof want, "[::1]:%u",
		    (unsigned int)ntohs(sin6.sin6_port));
		ok(strcmp(addr, want) == 0, "IPv6 peer addr %s, as Redis's "
		    "CLIENT LIST", addr);
		net_local_addr(err, afd, addr);
		snprintf(want, sizeof want, "[::1]:%d", port);
		ok(strcmp(addr, want) == 0, "IPv6 local addr %s", addr);
	}
	if (afd >= 0)
		close(afd);
	if (cfd >= 0)
		close(cfd);
	lfd2 = net_tcp_listen(err, "::1", port, 16, NULL);
	snprintf(want, sizeof want, "Could not bind [::1]:%d: %s", port,
	    strerror(EADDRINUSE));
	ok(lfd2 == -1 && strcmp(err, want) == 0, "IPv6 port taken: %s", err);
	if (lfd2 >= 0)
		close(lfd2);
	/* V6ONLY: the IPv4 side of the same port is still free. */
	lfd2 = net_tcp_listen(err, "127.0.0.1", port, 16, NULL);
	if (lfd2 == -1)
		diag("127.0.0.1:%d taken by something else: %s", port, err);
	else {
		ok(1, "IPv4 port free next to an IPv6-only listener");
		close(lfd2);
	}
	close(lfd);
}

/* ---- net.c: Unix sockets ---- */

/* Connect to the Unix socket at path; the fd or -1. */
static int
unix_connect(const char *path)
{
	struct sockaddr_un sa;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	return connect_to((struct sockaddr *)&sa, sizeof sa);
}

/* Return path's permission bits, or -1 if it is missing or no socket. */
static int
sock_mode(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == -1 || !S_ISSOCK(st.st_mode))
		return -1;
	return (int)(st.st_mode & 07777);
}

static void
test_unix(void)
{
	char dir[] = "/tmp/test_event.XXXXXX";
	char path[100], file[100], err[NET_ERR_LEN], addr[NET_ADDR_LEN];
	char longpath[200], want[512];
	struct sockaddr_un sa;
	struct stat st;
	mode_t old;
	FILE *f;
	int lfd, lfd2, cfd, afd, s;

	if (mkdtemp(dir) == NULL) {
		diag("mkdtemp: %s", strerror(errno));
		exit(1);
	}
	snprintf(path, sizeof path, "%s/s.sock", dir);
	snprintf(file, sizeof file, "%s/file", dir);
	old = umask(022);

	/* 0700 and 0777 (the latter wider than the umask allows). */
	lfd = net_unix_listen(err, path, 0700, 16);
	if (!ok(lfd >= 0, "unix listen 0700")) {
		diag("%s", err);
		goto out;
	}
	is_int(sock_mode(path), 0700, "socket file mode 0700");
	ok(flags_ok(lfd), "unix listener non-blocking and close-on-exec");
	cfd = unix_connect(path);
	afd = net_accept(err, lfd, addr);
	ok(cfd >= 0 && afd >= 0, "unix connection accepted");
	ok(afd >= 0 && flags_ok(afd), "accepted unix fd flags");
	ok(strcmp(addr, path) == 0, "unix peer addr is the path: %s", addr);
	if (afd >= 0)
		close(afd);
	if (cfd >= 0)
		close(cfd);

	/* A live server's socket is never taken over. */
	err[0] = '\0';
	lfd2 = net_unix_listen(err, path, 0700, 16);
	is_int(lfd2, -1, "live socket path refused");
	snprintf(want, sizeof want, "a server is already listening on %s",
	    path);
	ok(strcmp(err, want) == 0, "error: %s", err);
	cfd = unix_connect(path);
	ok(cfd >= 0, "the live server still answers");
	if (cfd >= 0)
		close(cfd);
	close(lfd);

	/* The file the closed listener left is stale: replaced. */
	ok(sock_mode(path) != -1, "stale socket file left by close");
	lfd = net_unix_listen(err, path, 0777, 16);
	if (ok(lfd >= 0, "stale socket replaced")) {
		is_int(sock_mode(path), 0777, "socket file mode 0777");
		cfd = unix_connect(path);
		ok(cfd >= 0, "new listener answers");
		if (cfd >= 0)
			close(cfd);
		close(lfd);
	} else
		diag("%s", err);
	unlink(path);

	/* A stale socket bound but never listened on. */
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	if (s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof sa) == 0) {
		close(s);
		lfd = net_unix_listen(err, path, 0700, 16);
		ok(lfd >= 0, "bound-only stale socket replaced");
		if (lfd >= 0)
			close(lfd);
		unlink(path);
	} else
		diag("bind %s: %s", path, strerror(errno));

	/* A regular file is never removed. */
	f = fopen(file, "w");
	if (f != NULL) {
		fputs("keep me\n", f);
		fclose(f);
	}
	err[0] = '\0';
	lfd = net_unix_listen(err, file, 0700, 16);
	is_int(lfd, -1, "regular file at the path refused");
	ok(strstr(err, file) != NULL && strstr(err, "not a socket") != NULL,
	    "error: %s", err);
	ok(stat(file, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 8,
	    "the regular file is still there, intact");
	unlink(file);

	/* Path length. */
	memset(longpath, 'a', sizeof longpath - 1);
	longpath[0] = '/';
	longpath[sizeof longpath - 1] = '\0';
	err[0] = '\0';
	ok(net_unix_listen(err, longpath, 0700, 16) == -1 &&
	    strstr(err, "too long") != NULL, "long path refused: %s", err);
	/* A directory that does not exist. */
	snprintf(want, sizeof want, "%s/nodir/s.sock", dir);
	err[0] = '\0';
	ok(net_unix_listen(err, want, 0700, 16) == -1 &&
	    strstr(err, want) != NULL, "missing directory: %s", err);

out:
	umask(old);
	unlink(path);
	rmdir(dir);
}

/* ---- Busy polling ---- */

/* Fork a child that writes one byte to fd after delay_us; its pid. */
static pid_t
write_later(int fd, long delay_us)
{
	struct timespec ts = { delay_us / 1000000, delay_us % 1000000 * 1000 };
	pid_t pid = fork();

	if (pid == 0) {
		nanosleep(&ts, NULL);
		_exit(write(fd, "x", 1) == 1 ? 0 : 1);
	}
	return pid;
}

/* Wait for a write_later child; 1 if it wrote. */
static int
reap(pid_t pid)
{
	int status;

	return pid > 0 && waitpid(pid, &status, 0) == pid &&
	    WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void
test_busy_poll(const char *be)
{
	char err[EV_ERR_LEN];
	unsigned long long hits, misses;
	event_loop *el;
	struct rec r;
	long long t0;
	int p[2], n;
	pid_t pid;

	el = event_loop_create(64, be, err);
	if (!ok(el != NULL && pipe(p) == 0, "%s: busy poll: loop and pipe", be))
		return;
	rec_init(&r);
	event_add_fd(el, p[0], EV_READABLE, on_fd_read, &r);

	/* A long budget, so a write 2 ms later is always met by the spin
	 * however slow the machine; a spin that finds nothing backs off. */
	event_set_busy_poll(el, 3000000);

	/* A cold loop (nothing handled yet) blocks at once. */
	if (write(p[1], "a", 1) != 1)
		diag("write failed");
	n = one_round(el, 5000);
	event_busy_poll_stats(el, &hits, &misses);
	ok(n == 1 && r.got == 1 && hits == 0 && misses == 0,
	    "%s: the first wait does not spin (n=%d hits=%llu misses=%llu)",
	    be, n, hits, misses);

	/* Hot now: the next wait spins and meets the write. */
	pid = write_later(p[1], 2000);
	n = one_round(el, 10000);
	ok(reap(pid), "%s: the child wrote", be);
	event_busy_poll_stats(el, &hits, &misses);
	ok(n == 1 && r.calls == 2 && hits == 1 && misses == 0,
	    "%s: a spin picks up a request arriving during it "
	    "(n=%d hits=%llu misses=%llu)", be, n, hits, misses);

	/* A short budget that runs out: counted as a miss, then the loop
	 * blocks and still handles what comes later. */
	event_set_busy_poll(el, 1000);
	pid = write_later(p[1], 100000);
	t0 = now_ms();
	n = one_round(el, 10000);
	ok(reap(pid), "%s: the child wrote", be);
	event_busy_poll_stats(el, &hits, &misses);
	ok(n == 1 && r.calls == 3 && hits == 1 && misses == 1,
	    "%s: a spin that runs out blocks for the rest "
	    "(n=%d hits=%llu misses=%llu)", be, n, hits, misses);
	ok(now_ms() - t0 >= 90, "%s: ... until the write came", be);

	/* After a miss the next wait skips the spin (back-off). */
	pid = write_later(p[1], 2000);
	n = one_round(el, 10000);
	ok(reap(pid), "%s: the child wrote", be);
	event_busy_poll_stats(el, &hits, &misses);
	ok(n == 1 && hits == 1 && misses == 1,
	    "%s: after a miss one wait goes straight to sleep "
	    "(hits=%llu misses=%llu)", be, hits, misses);

	/* Budget 0: never spins; the counters can be reset. */
	event_set_busy_poll(el, 0);
	event_busy_poll_stats_reset(el);
	pid = write_later(p[1], 2000);
	n = one_round(el, 10000);
	ok(reap(pid), "%s: the child wrote", be);
	event_busy_poll_stats(el, &hits, &misses);
	ok(n == 1 && hits == 0 && misses == 0,
	    "%s: budget 0 never spins, reset zeroes the counters", be);

	/* Nothing ready and no timer due soon: a spin must not hide a
	 * due timer for longer than its budget. */
	event_set_busy_poll(el, 1000);
	if (write(p[1], "b", 1) != 1)
		diag("write failed");
	one_round(el, 5000);                    /* hot again */
	t0 = now_ms();
	n = one_round(el, 30);
	ok(n == 0 && now_ms() - t0 >= 29 && now_ms() - t0 < 2000,
	    "%s: a timer still fires on time after a spin (%lld ms)", be,
	    now_ms() - t0);

	event_del_fd(el, p[0], EV_READABLE);
	close(p[0]);
	close(p[1]);
	event_loop_free(el);
}

int
main(void)
{
	const char *const *names = event_backend_names();
	size_t i;

	test_backend_choice();
	for (i = 0; names[i] != NULL; i++) {
		diag("backend %s", names[i]);
		test_fds(names[i]);
		test_timers(names[i]);
		test_busy_poll(names[i]);
	}
	test_tcp();
	test_unix();
	return done_testing();
}
