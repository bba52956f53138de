/* SPDX-License-Identifier: MIT */
/*
 * tiny_mp_cache._native.Connection: the client's round trips, the whole
 * fast path of a command in C (encode, send, receive, build the reply).
 */
#include "config.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include "native.h"
#include "resp.h"

/*
 * One connection of TinyCache, with the whole fast path of a command in
 * C: check for fork(), take the lock, encode the arguments into a reused
 * buffer, send() it, recv() into the reply buffer until the reply is
 * complete, build the reply object (or raise the error reply). The GIL
 * is released once around the send and receive calls (taken back only
 * to run signal handlers), so a round trip costs two system calls and
 * no Python-level I/O. Whatever is not the fast path (connecting, AUTH,
 * retrying, mapping errors) TinyCache does in Python, holding the same
 * lock (Connection.lock) and passing CMD_LOCKED.
 *
 * The socket stays a Python socket object, which owns the descriptor:
 * attach() keeps a reference to it and reads its descriptor, which must
 * be in blocking mode (settimeout(None)); the command timeout is set on
 * the socket as SO_RCVTIMEO / SO_SNDTIMEO, so waiting for a reply costs
 * no poll() either. TinyCache calls detach() before closing the socket.
 */
struct native_conn {
	PyObject_HEAD
	int fd;                        /* -1: not connected, or broken */
	int busy;                      /* inside the round trip */
	unsigned long forks;           /* native_forks when made */
	struct native_lock *lock;      /* serializes commands */
	PyObject *sock;                /* the socket object owning fd */
	long long timeout_us;          /* each wait's limit; 0: none */
	long long last_ns;             /* native_now_ns() at the last reply */
	struct resp_buf out;           /* the request being sent */
	struct native_rbuf in;         /* bytes received */
	PyObject *error_class;         /* called with an error reply's text */
};

#define NATIVE_RECV_MIN (64 * 1024)    /* room offered to each recv() */

#ifdef MSG_NOSIGNAL
#define NATIVE_MSG_NOSIGNAL MSG_NOSIGNAL
#else
#define NATIVE_MSG_NOSIGNAL 0
#endif

/* The clock of idle times and interrupted waits: the coarse one reads in
 * a few nanoseconds (vDSO) and its tick (1-10 ms) is fine for both. */
#ifdef CLOCK_MONOTONIC_COARSE
#define NATIVE_CLOCK CLOCK_MONOTONIC_COARSE
#else
#define NATIVE_CLOCK CLOCK_MONOTONIC
#endif

/* Return the time in nanoseconds on NATIVE_CLOCK. */
static long long
native_now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(NATIVE_CLOCK, &ts) != 0)
		return 0;
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Set the socket timeout opt (SO_RCVTIMEO or SO_SNDTIMEO) to us
 * microseconds (0: none). 0, or -1 with errno. */
static int
native_set_timeo(int fd, int opt, long long us)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	return setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv);
}

/* Connection(error_class=Exception): not connected yet. */
static int
native_conn_init(PyObject *obj, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "error_class", NULL };
	struct native_conn *self = (struct native_conn *)obj;
	PyObject *error_class = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:Connection",
	    kwlist, &error_class))
		return -1;
	if (self->error_class != NULL) {
		PyErr_SetString(PyExc_RuntimeError,
		    "Connection.__init__ called twice");
		return -1;
	}
	if (error_class == NULL)
		error_class = PyExc_Exception;
	if (!PyType_Check(error_class) ||
	    !PyType_IsSubtype((PyTypeObject *)error_class,
	    (PyTypeObject *)PyExc_BaseException)) {
		PyErr_SetString(PyExc_TypeError,
		    "error_class must be an exception class");
		return -1;
	}
	Py_INCREF(error_class);
	self->error_class = error_class;
	return 0;
}

/* Connection.__new__: not connected, with a free lock of its own. */
static PyObject *
native_conn_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
	struct native_conn *self;
	PyObject *noargs;

	if ((self = (struct native_conn *)type->tp_alloc(type, 0)) == NULL)
		return NULL;
	self->fd = -1;
	self->forks = native_forks;
	if ((noargs = PyTuple_New(0)) == NULL) {
		Py_DECREF(self);
		return NULL;
	}
	self->lock = (struct native_lock *)native_lock_new(&native_lock_type,
	    noargs, NULL);
	Py_DECREF(noargs);
	if (self->lock == NULL) {
		Py_DECREF(self);
		return NULL;
	}
	return (PyObject *)self;
}

/* Free a Connection and its buffers (the socket is its owner's). */
static void
native_conn_dealloc(PyObject *obj)
{
	struct native_conn *self = (struct native_conn *)obj;

	resp_buf_free(&self->out);
	native_rbuf_free(&self->in);
	Py_CLEAR(self->sock);
	Py_CLEAR(self->error_class);
	Py_CLEAR(self->lock);
	Py_TYPE(obj)->tp_free(obj);
}

/* Raise unless no command is in progress; 0 if none is. */
static int
native_conn_check_free(struct native_conn *self)
{
	if (!self->busy)
		return 0;
	PyErr_SetString(PyExc_RuntimeError,
	    "the connection is in use by another thread");
	return -1;
}

/* Stop using the descriptor after a failure: its stream is out of step.
 * The socket stays referenced until detach(). */
static void
native_conn_break(struct native_conn *self)
{
	self->fd = -1;
	native_rbuf_reset(&self->in);
}

/* Free a send buffer a big request grew. */
static void
native_conn_trim(struct native_conn *self)
{
	if (self->out.cap > NATIVE_PACK_KEEP)
		resp_buf_free(&self->out);
}

PyDoc_STRVAR(native_conn_attach_doc,
"attach(sock, timeout)\n--\n\n"
"Use the connected socket object sock (in blocking mode: settimeout(None))\n"
"for the next commands, with a fresh reply buffer. timeout (seconds, or\n"
"None for no limit) is set on it as SO_RCVTIMEO and SO_SNDTIMEO: a wait\n"
"longer than that raises TimeoutError. Keeps a reference to sock until\n"
"detach(); never closes it.");

/* Connection.attach(sock, timeout): start using a socket. */
static PyObject *
native_conn_attach(PyObject *obj, PyObject *const *args, Py_ssize_t nargs)
{
	struct native_conn *self = (struct native_conn *)obj;
	long long us = 0;
	double t;
	int fd;

	if (nargs != 2) {
		PyErr_SetString(PyExc_TypeError,
		    "attach() takes a socket and a timeout");
		return NULL;
	}
	if (native_conn_check_free(self) < 0)
		return NULL;
	if (args[1] != Py_None) {
		t = PyFloat_AsDouble(args[1]);
		if (t == -1.0 && PyErr_Occurred())
			return NULL;
		if (!(t > 0)) {
			PyErr_SetString(PyExc_ValueError,
			    "timeout must be None or a number > 0");
			return NULL;
		}
		/* At least 1 us (0 would mean no limit); at most ~68 years. */
		us = t >= (double)INT_MAX ? (long long)INT_MAX * 1000000 :
		    (long long)(t * 1e6 + 0.999);
		if (us < 1)
			us = 1;
	}
	if ((fd = PyObject_AsFileDescriptor(args[0])) < 0)
		return NULL;
	if (us != 0 && (native_set_timeo(fd, SO_RCVTIMEO, us) < 0 ||
	    native_set_timeo(fd, SO_SNDTIMEO, us) < 0))
		return PyErr_SetFromErrno(PyExc_OSError);
	Py_INCREF(args[0]);
	Py_XDECREF(self->sock);
	self->sock = args[0];
	self->fd = fd;
	self->timeout_us = us;
	native_rbuf_reset(&self->in);
	self->last_ns = native_now_ns();
	Py_RETURN_NONE;
}

PyDoc_STRVAR(native_conn_detach_doc,
"detach()\n--\n\n"
"Stop using the socket (before its owner closes it) and free the\n"
"buffers. The next command raises ConnectionStale until attach().");

/* Connection.detach(): forget the socket. */
static PyObject *
native_conn_detach(PyObject *obj, PyObject *unused)
{
	struct native_conn *self = (struct native_conn *)obj;

	if (native_conn_check_free(self) < 0)
		return NULL;
	self->fd = -1;
	Py_CLEAR(self->sock);
	native_rbuf_free(&self->in);
	resp_buf_free(&self->out);
	Py_RETURN_NONE;
}

/*
 * The idle-close check, before a command that must never be sent twice
 * (pop): a connection the server closed while it sat idle (it restarted,
 * or drops idle clients) is readable (EOF) before anything is sent, and
 * then reconnecting is safe. poll() is a system call, so it is made only
 * once the connection has been idle (no reply) for NATIVE_IDLE_NS by the
 * coarse clock, i.e. for one clock tick (1-10 ms) at most; commands in a
 * tight loop skip it. A server that closes the connection within that
 * time of its last reply makes the command fail as "may or may not have
 * run", which is still correct: the caller never loses a job and never
 * gets one twice. Returns 1 if the connection must not be used.
 */
static int
native_conn_idle_closed(struct native_conn *self)
{
	struct pollfd pfd;

	if (native_now_ns() - self->last_ns < NATIVE_IDLE_NS)
		return 0;
	pfd.fd = self->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) != 0;  /* readable, hung up, error */
}

/* How a round trip ended (native_conn_io). */
enum native_io_result {
	NATIVE_IO_OK,                  /* every reply is in */
	NATIVE_IO_LATE,                /* sending failed, but an error reply
	                                * had come: it is the reply */
	NATIVE_IO_ERRNO,               /* a system call failed: see err */
	NATIVE_IO_EOF,                 /* the server closed the connection */
	NATIVE_IO_TIMEOUT,             /* a wait reached the timeout */
	NATIVE_IO_PROTOCOL,            /* the bytes are not RESP2 */
	NATIVE_IO_SIGNAL               /* a signal handler raised */
};

/* One round trip in progress. */
struct native_io {
	struct native_conn *conn;
	PyThreadState *save;           /* the released GIL's thread state */
	size_t count;                  /* replies wanted */
	size_t done;                   /* replies complete */
	size_t off;                    /* their bytes, from in.pos */
	size_t last;                   /* the last complete one's length */
	int err;                       /* errno of NATIVE_IO_ERRNO */
	int shortened;                 /* SO_RCVTIMEO (1), SO_SNDTIMEO (2)
	                                * set below the timeout */
};

/* Run Python's signal handlers (they run in the main thread only),
 * taking the GIL back meanwhile. -1 if one raised. */
static int
native_io_signals(struct native_io *io)
{
	int rc;

	PyEval_RestoreThread(io->save);
	rc = PyErr_CheckSignals();
	io->save = PyEval_SaveThread();
	return rc;
}

/* After a wait on opt (SO_RCVTIMEO or SO_SNDTIMEO) that began at start
 * was cut short: set the socket's limit to what is left of the timeout
 * for the rest of the wait. 0, or -1 when nothing is left. */
static int
native_io_left(struct native_io *io, int opt, long long start)
{
	long long us = io->conn->timeout_us, left;

	if (us == 0)
		return 0;
	left = us - (native_now_ns() - start) / 1000;
	if (left <= 0)
		return -1;
	if (native_set_timeo(io->conn->fd, opt, left) == 0)
		io->shortened |= opt == SO_RCVTIMEO ? 1 : 2;
	return 0;
}

/* Set the socket limits native_io_left shortened back to the timeout. */
static void
native_io_restore(struct native_io *io, int which)
{
	struct native_conn *c = io->conn;

	if ((io->shortened & which & 1) != 0)
		(void)native_set_timeo(c->fd, SO_RCVTIMEO, c->timeout_us);
	if ((io->shortened & which & 2) != 0)
		(void)native_set_timeo(c->fd, SO_SNDTIMEO, c->timeout_us);
	io->shortened &= ~which;
}

/* Send the whole request. Like socket.sendall, the timeout bounds the
 * whole send; a signal runs its handler and the send goes on. */
static enum native_io_result
native_io_send(struct native_io *io)
{
	struct native_conn *c = io->conn;
	const char *p = c->out.data;
	size_t left = c->out.len;
	long long start = c->timeout_us != 0 ? native_now_ns() : 0;
	ssize_t n;

	while (left > 0) {
		n = send(c->fd, p, left, NATIVE_MSG_NOSIGNAL);
		if (n >= 0 && (size_t)n == left)
			break;
		if (n >= 0) {
			p += n;
			left -= (size_t)n;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK)
			return NATIVE_IO_TIMEOUT;
		else if (errno != EINTR) {
			io->err = errno;
			return NATIVE_IO_ERRNO;
		}
		/* Interrupted, or a partial send (a blocking send stops
		 * short only for a signal or the timeout). */
		if (native_io_signals(io) < 0)
			return NATIVE_IO_SIGNAL;
		if (native_io_left(io, SO_SNDTIMEO, start) < 0)
			return NATIVE_IO_TIMEOUT;
	}
	native_io_restore(io, 2);
	return NATIVE_IO_OK;
}

/* Receive until io->count replies are complete. As with recv_into
 * calls in a loop, the timeout bounds each wait for more bytes. */
static enum native_io_result
native_io_recv(struct native_io *io)
{
	struct native_conn *c = io->conn;
	struct native_rbuf *in = &c->in;
	long long n, start = 0;
	int waiting = 0;
	ssize_t got;

	for (;;) {
		while (io->done < io->count && in->len - in->pos > io->off) {
			n = resp_scan_reply(&in->scan, in->buf + in->pos +
			    io->off, in->len - in->pos - io->off, &in->need);
			if (n < 0)
				return NATIVE_IO_PROTOCOL;
			if (n == 0)
				break;
			io->off += (size_t)n;
			io->last = (size_t)n;
			io->done++;
			in->need = 0;
			resp_scan_init(&in->scan);
		}
		if (io->done == io->count)
			return NATIVE_IO_OK;
		native_rbuf_reserve(in, in->need > NATIVE_RECV_MIN ?
		    in->need : NATIVE_RECV_MIN);
		if (!waiting && c->timeout_us != 0) {
			start = native_now_ns();
			waiting = 1;
		}
		got = recv(c->fd, in->buf + in->len, in->cap - in->len, 0);
		if (got > 0) {
			in->len += (size_t)got;
			waiting = 0;
			native_io_restore(io, 1);
			continue;
		}
		if (got == 0)
			return NATIVE_IO_EOF;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return NATIVE_IO_TIMEOUT;
		if (errno != EINTR) {
			io->err = errno;
			return NATIVE_IO_ERRNO;
		}
		if (native_io_signals(io) < 0)
			return NATIVE_IO_SIGNAL;
		if (native_io_left(io, SO_RCVTIMEO, start) < 0)
			return NATIVE_IO_TIMEOUT;
	}
}

/* Say whether errno e means the peer broke the connection (the errors
 * Python raises as ConnectionError). */
static int
native_errno_is_connection(int e)
{
	return e == EPIPE || e == ECONNRESET || e == ECONNABORTED ||
	    e == ECONNREFUSED || e == ESHUTDOWN;
}

/*
 * Sending one command failed with a connection error: the server may
 * have refused it with an error reply and closed before reading it all
 * (a value over its bulk limit). Take what has already arrived, without
 * waiting: NATIVE_IO_LATE if it is a whole error reply, else the send's
 * error.
 */
static enum native_io_result
native_io_late(struct native_io *io)
{
	struct native_rbuf *in = &io->conn->in;
	ssize_t got;
	long long n;

	if (io->count != 1)
		return NATIVE_IO_ERRNO;
	native_rbuf_reserve(in, NATIVE_RECV_MIN);
	got = recv(io->conn->fd, in->buf + in->len, in->cap - in->len,
	    MSG_DONTWAIT);
	if (got <= 0)
		return NATIVE_IO_ERRNO;
	in->len += (size_t)got;
	n = resp_scan_reply(&in->scan, in->buf + in->pos, in->len - in->pos,
	    NULL);
	if (n <= 0 || in->buf[in->pos] != '-')
		return NATIVE_IO_ERRNO;
	io->off = io->last = (size_t)n;
	io->done = 1;
	return NATIVE_IO_LATE;
}

/* The round trip: send the request, receive the replies. Runs with the
 * GIL released (io->save). */
static enum native_io_result
native_conn_io(struct native_io *io)
{
	enum native_io_result rc;

	rc = native_io_send(io);
	if (rc == NATIVE_IO_ERRNO && native_errno_is_connection(io->err))
		return native_io_late(io);
	if (rc == NATIVE_IO_OK)
		rc = native_io_recv(io);
	return rc;
}

/* Raise the exception of a failed round trip. */
static void
native_conn_raise(struct native_conn *self, struct native_io *io,
    enum native_io_result rc)
{
	switch (rc) {
	case NATIVE_IO_ERRNO:
		errno = io->err;
		PyErr_SetFromErrno(PyExc_OSError);
		break;
	case NATIVE_IO_EOF:
		PyErr_SetString(native_closed_error,
		    "the server closed the connection");
		break;
	case NATIVE_IO_TIMEOUT:
		PyErr_SetString(PyExc_TimeoutError, "timed out");
		break;
	case NATIVE_IO_PROTOCOL:
		PyErr_Format(native_protocol_error,
		    "invalid RESP reply from the server (first byte 0x%02x)",
		    (unsigned char)self->in.buf[self->in.pos + io->off]);
		break;
	default:                       /* NATIVE_IO_SIGNAL: already set */
		if (!PyErr_Occurred())
			PyErr_SetString(PyExc_SystemError,
			    "round trip failed without an error");
		break;
	}
}

/*
 * Build the count complete replies at in.pos as a list, or return the
 * first error reply among them instead, for the caller to raise (all are
 * consumed either way, so the connection stays in step). New reference,
 * NULL on error.
 */
static PyObject *
native_conn_build_many(struct native_conn *self, size_t count, int decode)
{
	struct native_rbuf *in = &self->in;
	PyObject *list, *item, *first_err = NULL;
	struct resp_scan scan;
	long long n;
	size_t i;

	if (count > PY_SSIZE_T_MAX)
		return PyErr_NoMemory();
	if ((list = PyList_New((Py_ssize_t)count)) == NULL)
		return NULL;
	for (i = 0; i < count; i++) {
		resp_scan_init(&scan);
		n = resp_scan_reply(&scan, in->buf + in->pos,
		    in->len - in->pos, NULL);
		if (n <= 0) {          /* scanned whole before: cannot be */
			PyErr_SetString(native_protocol_error,
			    "could not build the reply");
			goto fail;
		}
		item = native_rbuf_build(in, (size_t)n, self->error_class,
		    decode);
		if (item == NULL)
			goto fail;
		if (first_err == NULL &&
		    (PyObject *)Py_TYPE(item) == self->error_class)
			first_err = item;
		PyList_SET_ITEM(list, (Py_ssize_t)i, item);
	}
	if (first_err == NULL)
		return list;
	Py_INCREF(first_err);
	Py_DECREF(list);
	return first_err;               /* the caller raises it */
fail:
	Py_DECREF(list);
	return NULL;
}

PyDoc_STRVAR(native_conn_command_doc,
"command(flags, *args) -> reply\n--\n\n"
"Send one command and return its reply: bulk -> bytes (str with\n"
"CMD_DECODE), status -> str, integer -> int, nil -> None, array -> list;\n"
"an error reply is raised (an error_class instance).\n"
"With CMD_MANY the arguments are (name, keys): one command 'name key'\n"
"for each key of the list, pipelined; the replies come back as a list,\n"
"or the first error reply among them is raised once all are read. With\n"
"CMD_IDLE_CHECK a connection that has been idle is first checked for\n"
"having been closed by the server. The command takes the lock unless\n"
"CMD_LOCKED says the caller holds it. Other bits of flags are ignored.\n\n"
"Raises, before anything is sent: ConnectionForked when the process\n"
"is a child forked after this Connection was made (before the lock);\n"
"TypeError, ValueError or OverflowError for an argument that cannot be\n"
"encoded (the connection is untouched); ConnectionStale when not\n"
"connected, or when the idle check found the connection closed. After\n"
"sending: TimeoutError, ConnectionClosed, OSError, ProtocolError, or a\n"
"signal handler's exception, and the connection is broken (fd -1) until\n"
"the next attach(). An error reply that arrived when sending failed is\n"
"raised, and the connection is broken after that too.");

/* Connection.command(flags, *args): one round trip. */
static PyObject *
native_conn_command(PyObject *obj, PyObject *const *args, Py_ssize_t nargs)
{
	struct native_conn *self = (struct native_conn *)obj;
	struct native_io io;
	enum native_io_result rc;
	PyObject *res = NULL;
	size_t count = 1;
	long flags;
	int locked = 0, err;

	if (nargs < 2) {
		PyErr_SetString(PyExc_TypeError,
		    "command() takes flags and at least a command name");
		return NULL;
	}
	flags = PyLong_AsLong(args[0]);
	if (flags == -1 && PyErr_Occurred())
		return NULL;
	/* Before the lock: a thread that held it at fork() time is gone. */
	if (self->forks != native_forks) {
		PyErr_SetString(native_forked_error,
		    "the connection belongs to the parent process");
		return NULL;
	}
	if ((flags & NATIVE_CMD_LOCKED) == 0) {
		if (native_lock_take(self->lock, -1) < 0)
			return NULL;
		locked = 1;
	}
	if (native_conn_check_free(self) < 0)
		goto out;
	self->out.len = 0;
	if ((flags & NATIVE_CMD_MANY) != 0) {
		if (nargs != 3) {
			PyErr_SetString(PyExc_TypeError,
			    "command(CMD_MANY, name, keys) takes a name and "
			    "a list of keys");
			goto out;
		}
		err = native_pack_many(&self->out, args[1], args[2], &count);
	} else
		err = native_pack_into(&self->out, args + 1, nargs - 1);
	if (err < 0)
		goto out;
	if (count == 0) {
		res = PyList_New(0);
		goto out;
	}
	if (self->fd < 0) {
		PyErr_SetString(native_stale_error, "not connected");
		goto out;
	}
	if ((flags & NATIVE_CMD_IDLE_CHECK) != 0 &&
	    native_conn_idle_closed(self)) {
		native_conn_break(self);
		PyErr_SetString(native_stale_error,
		    "the server closed the connection while it was idle");
		goto out;
	}

	memset(&io, 0, sizeof io);
	io.conn = self;
	io.count = count;
	self->busy = 1;
	io.save = PyEval_SaveThread();
	rc = native_conn_io(&io);
	PyEval_RestoreThread(io.save);
	self->busy = 0;
	if (rc != NATIVE_IO_OK && rc != NATIVE_IO_LATE) {
		native_conn_raise(self, &io, rc);
		native_conn_break(self);
		goto out;
	}
	if ((flags & NATIVE_CMD_MANY) != 0)
		res = native_conn_build_many(self, count,
		    (flags & NATIVE_CMD_DECODE) != 0);
	else
		res = native_rbuf_build(&self->in, io.last, self->error_class,
		    (flags & NATIVE_CMD_DECODE) != 0);
	if (res == NULL || rc == NATIVE_IO_LATE)
		native_conn_break(self);
	else
		self->last_ns = native_now_ns();
	if (res != NULL && (PyObject *)Py_TYPE(res) == self->error_class) {
		/* An error reply is raised; the connection stays in step
		 * (unless the reply came late, after sending failed). */
		PyErr_SetObject(self->error_class, res);
		Py_CLEAR(res);
	}
out:
	native_conn_trim(self);
	if (locked)
		native_lock_give(self->lock);
	return res;
}

/* Connection.fd: the descriptor in use, -1 when not connected. */
static PyObject *
native_conn_get_fd(PyObject *obj, void *closure)
{
	return PyLong_FromLong(((struct native_conn *)obj)->fd);
}

/* Connection.timeout: SO_RCVTIMEO/SO_SNDTIMEO set by attach(), or None. */
static PyObject *
native_conn_get_timeout(PyObject *obj, void *closure)
{
	struct native_conn *self = (struct native_conn *)obj;

	if (self->timeout_us == 0)
		Py_RETURN_NONE;
	return PyFloat_FromDouble((double)self->timeout_us / 1e6);
}

/* Connection.forked: made in a parent of this process (before fork()). */
static PyObject *
native_conn_get_forked(PyObject *obj, void *closure)
{
	return PyBool_FromLong(((struct native_conn *)obj)->forks !=
	    native_forks);
}

/* Connection.lock: the Lock command() takes. */
static PyObject *
native_conn_get_lock(PyObject *obj, void *closure)
{
	PyObject *lock = (PyObject *)((struct native_conn *)obj)->lock;

	Py_INCREF(lock);
	return lock;
}

static PyMethodDef native_conn_methods[] = {
	{ "command", (PyCFunction)(void (*)(void))native_conn_command,
	    METH_FASTCALL, native_conn_command_doc },
	{ "attach", (PyCFunction)(void (*)(void))native_conn_attach,
	    METH_FASTCALL, native_conn_attach_doc },
	{ "detach", native_conn_detach, METH_NOARGS, native_conn_detach_doc },
	{ NULL, NULL, 0, NULL }
};

static PyGetSetDef native_conn_getset[] = {
	{ "fd", native_conn_get_fd, NULL,
	    "The descriptor in use; -1 when not connected (or broken).",
	    NULL },
	{ "timeout", native_conn_get_timeout, NULL,
	    "The wait limit attach() set, in seconds, or None.", NULL },
	{ "forked", native_conn_get_forked, NULL,
	    "True in a child process forked after the Connection was made: "
	    "it must not be used there.", NULL },
	{ "lock", native_conn_get_lock, NULL,
	    "The Lock command() takes (unless CMD_LOCKED).", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

PyDoc_STRVAR(native_conn_doc,
"Connection(error_class=Exception)\n--\n\n"
"The client's connection (internal: TinyCache uses it): attach() a\n"
"connected socket, then command() does each round trip in C, under\n"
"the Connection's lock. Error replies are raised as error_class.");

PyTypeObject native_conn_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "tiny_mp_cache._native.Connection",
	.tp_basicsize = sizeof(struct native_conn),
	.tp_dealloc = native_conn_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = native_conn_doc,
	.tp_methods = native_conn_methods,
	.tp_getset = native_conn_getset,
	.tp_init = native_conn_init,
	.tp_new = native_conn_new,
};
