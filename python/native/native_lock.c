/* SPDX-License-Identifier: MIT */
/*
 * tiny_mp_cache._native.Lock: the client's command lock, a
 * threading.Lock that Connection also takes in C.
 */
#include "config.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <time.h>

#include "native.h"

/*
 * A lock like threading.Lock (acquire, release, locked, with), which
 * Connection also takes directly in C: one lock serializes the fast path
 * of commands (all in Connection.command) and the slow paths TinyCache
 * runs in Python (connecting, AUTH, retries, close). Waiting releases
 * the GIL and can be interrupted by a signal handler that raises, as
 * with threading.Lock.
 */
struct native_lock {
	PyObject_HEAD
	PyThread_type_lock lock;       /* NULL only if allocation failed */
	int locked;                    /* held (the GIL guards this flag) */
};

/* Return CLOCK_MONOTONIC in microseconds. */
static long long
native_mono_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Take the lock: at once if it is free, else wait with the GIL released
 * for up to timeout_us microseconds (-1: no limit; 0: do not wait),
 * running signal handlers when a wait is interrupted. Returns 1 when
 * taken, 0 when the time ran out, -1 with the exception a handler raised.
 */
int
native_lock_take(struct native_lock *self, long long timeout_us)
{
	PyLockStatus r;
	long long deadline = 0;

	r = PyThread_acquire_lock_timed(self->lock, 0, 0);
	if (r == PY_LOCK_FAILURE && timeout_us != 0) {
		if (timeout_us > 0)
			deadline = native_mono_us() + timeout_us;
		for (;;) {
			Py_BEGIN_ALLOW_THREADS
			r = PyThread_acquire_lock_timed(self->lock, timeout_us,
			    1);
			Py_END_ALLOW_THREADS
			if (r != PY_LOCK_INTR)
				break;
			if (PyErr_CheckSignals() < 0)
				return -1;
			if (timeout_us > 0) {
				timeout_us = deadline - native_mono_us();
				if (timeout_us <= 0) {
					r = PY_LOCK_FAILURE;
					break;
				}
			}
		}
	}
	if (r != PY_LOCK_ACQUIRED)
		return 0;
	self->locked = 1;
	return 1;
}

/* Let the lock go (the caller checked it is held). */
void
native_lock_give(struct native_lock *self)
{
	self->locked = 0;
	PyThread_release_lock(self->lock);
}

/* Lock(): a new, free lock. */
PyObject *
native_lock_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
	struct native_lock *self;

	if ((PyTuple_GET_SIZE(args) != 0 ||
	    (kwds != NULL && PyDict_GET_SIZE(kwds) != 0))) {
		PyErr_SetString(PyExc_TypeError, "Lock() takes no arguments");
		return NULL;
	}
	if ((self = (struct native_lock *)type->tp_alloc(type, 0)) == NULL)
		return NULL;
	if ((self->lock = PyThread_allocate_lock()) == NULL) {
		Py_DECREF(self);
		PyErr_SetString(PyExc_MemoryError, "cannot allocate a lock");
		return NULL;
	}
	return (PyObject *)self;
}

/* Free a Lock (held or not: as threading.Lock, a held one is let go). */
static void
native_lock_dealloc(PyObject *obj)
{
	struct native_lock *self = (struct native_lock *)obj;

	if (self->lock != NULL) {
		if (self->locked)
			PyThread_release_lock(self->lock);
		PyThread_free_lock(self->lock);
	}
	Py_TYPE(obj)->tp_free(obj);
}

PyDoc_STRVAR(native_lock_acquire_doc,
"acquire(blocking=True, timeout=-1) -> bool\n--\n\n"
"Take the lock, waiting if need be (not when blocking is false; at most\n"
"timeout seconds when it is >= 0). True if it was taken.");

/* Lock.acquire(blocking=True, timeout=-1), as threading.Lock's. */
static PyObject *
native_lock_acquire(PyObject *obj, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "blocking", "timeout", NULL };
	struct native_lock *self = (struct native_lock *)obj;
	int blocking = 1, r;
	double timeout = -1;
	long long us = -1;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|pd:acquire", kwlist,
	    &blocking, &timeout))
		return NULL;
	if (!blocking && timeout != -1) {
		PyErr_SetString(PyExc_ValueError,
		    "can't specify a timeout for a non-blocking call");
		return NULL;
	}
	if (timeout < 0 && timeout != -1) {
		PyErr_SetString(PyExc_ValueError,
		    "timeout value must be a non-negative number");
		return NULL;
	}
	if (!blocking)
		us = 0;
	else if (timeout >= 0) {
		if (timeout * 1e6 >= (double)PY_TIMEOUT_MAX) {
			PyErr_SetString(PyExc_OverflowError,
			    "timeout value is too large");
			return NULL;
		}
		us = (long long)(timeout * 1e6 + 0.999);
	}
	if ((r = native_lock_take(self, us)) < 0)
		return NULL;
	return PyBool_FromLong(r);
}

/* Lock.__enter__(): acquire(), waiting as long as it takes. */
static PyObject *
native_lock_enter(PyObject *obj, PyObject *unused)
{
	if (native_lock_take((struct native_lock *)obj, -1) < 0)
		return NULL;
	Py_RETURN_TRUE;
}

PyDoc_STRVAR(native_lock_release_doc,
"release()\n--\n\n"
"Let the lock go; RuntimeError if it is not held.");

/* Lock.release() and Lock.__exit__(*exc). */
static PyObject *
native_lock_release(PyObject *obj, PyObject *unused)
{
	struct native_lock *self = (struct native_lock *)obj;

	if (!self->locked) {
		PyErr_SetString(PyExc_RuntimeError, "release unlocked lock");
		return NULL;
	}
	native_lock_give(self);
	Py_RETURN_NONE;
}

PyDoc_STRVAR(native_lock_locked_doc,
"locked() -> bool\n--\n\n"
"True while the lock is held.");

/* Lock.locked(). */
static PyObject *
native_lock_locked(PyObject *obj, PyObject *unused)
{
	return PyBool_FromLong(((struct native_lock *)obj)->locked);
}

static PyMethodDef native_lock_methods[] = {
	{ "acquire", (PyCFunction)(void (*)(void))native_lock_acquire,
	    METH_VARARGS | METH_KEYWORDS, native_lock_acquire_doc },
	{ "release", native_lock_release, METH_NOARGS,
	    native_lock_release_doc },
	{ "locked", native_lock_locked, METH_NOARGS, native_lock_locked_doc },
	{ "__enter__", native_lock_enter, METH_NOARGS, NULL },
	{ "__exit__", native_lock_release, METH_VARARGS, NULL },
	{ NULL, NULL, 0, NULL }
};

PyDoc_STRVAR(native_lock_doc,
"Lock()\n--\n\n"
"A lock like threading.Lock that Connection.command also takes.");

PyTypeObject native_lock_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "tiny_mp_cache._native.Lock",
	.tp_basicsize = sizeof(struct native_lock),
	.tp_dealloc = native_lock_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = native_lock_doc,
	.tp_methods = native_lock_methods,
	.tp_new = native_lock_new,
};
