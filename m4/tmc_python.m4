# SPDX-License-Identifier: MIT
# TMC_PYTHON_EXTENSION: what building the tiny_mp_cache extension needs.

# TMC_PYTHON_EXTENSION
# ---------------------
# Call after AM_PATH_PYTHON has set PYTHON and PYTHON_VERSION. Finds the
# C headers of that Python (pkg-config python-X.Y, else the interpreter's
# own sysconfig paths) and the file name suffix of its extension modules
# (sysconfig EXT_SUFFIX, e.g. ".cpython-311-x86_64-linux-gnu.so"), checks
# that <Python.h> compiles, and fails with a clear message if it does not.
# Never links libpython: an extension module gets its symbols from the
# interpreter that loads it (the python3-embed flags are for programs).
#
# AC_SUBSTs PYTHON_CFLAGS (preprocessor flags: -I...), PYTHON_EXT_SUFFIX,
# and sets tmc_python_cflags_from ("pkg-config", "sysconfig" or "the
# environment") for configure's summary. PYTHON_CFLAGS set by the user
# wins.
AC_DEFUN([TMC_PYTHON_EXTENSION], [
	AC_REQUIRE([PKG_PROG_PKG_CONFIG])
	AC_ARG_VAR([PYTHON_CFLAGS],
		[C preprocessor flags for Python's headers, overriding pkg-config and sysconfig])
	AC_ARG_VAR([PYTHON_EXT_SUFFIX],
		[file name suffix of Python extension modules, overriding sysconfig's EXT_SUFFIX])
	AS_IF([test -z "$PYTHON"],
		[AC_MSG_ERROR([no Python interpreter: PYTHON is empty])])

	AC_MSG_CHECKING([for the C headers of $PYTHON])
	AS_IF([test -n "$PYTHON_CFLAGS"], [
		tmc_python_cflags_from="the environment"
	], [test -n "$PKG_CONFIG" &&
	    $PKG_CONFIG --exists "python-$PYTHON_VERSION" 2>/dev/null], [
		PYTHON_CFLAGS=`$PKG_CONFIG --cflags "python-$PYTHON_VERSION" | sed 's/ *$//'`
		tmc_python_cflags_from="pkg-config python-$PYTHON_VERSION"
	], [
		PYTHON_CFLAGS=`$PYTHON -c '
import sysconfig
paths = sysconfig.get_paths()
dirs = dict.fromkeys(d for d in (paths.get("include"), paths.get("platinclude")) if d)
print(" ".join("-I" + d for d in dirs))' 2>/dev/null`
		tmc_python_cflags_from="sysconfig"
	])
	AC_MSG_RESULT([$PYTHON_CFLAGS (from $tmc_python_cflags_from)])

	AC_MSG_CHECKING([whether <Python.h> compiles])
	tmc_save_CPPFLAGS=$CPPFLAGS
	CPPFLAGS="$CPPFLAGS $PYTHON_CFLAGS"
	AC_COMPILE_IFELSE([AC_LANG_PROGRAM([[
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#if PY_VERSION_HEX < 0x03080000
#error Python 3.8 or later is required
#endif
]], [[PyObject *m = PyModule_Create((struct PyModuleDef *)0); (void)m;]])],
		[tmc_python_h=yes], [tmc_python_h=no])
	CPPFLAGS=$tmc_save_CPPFLAGS
	AC_MSG_RESULT([$tmc_python_h])
	AS_IF([test "x$tmc_python_h" != xyes], [
		AC_MSG_ERROR([cannot compile against the C headers of $PYTHON (Python $PYTHON_VERSION): <Python.h> was not found or is unusable with PYTHON_CFLAGS='$PYTHON_CFLAGS'.
The Python extension needs them. Install them (Debian/Ubuntu: apt-get install python3-dev; for another Python X.Y: pythonX.Y-dev), or choose another interpreter with PYTHON=..., or set PYTHON_CFLAGS.])
	])

	AC_MSG_CHECKING([for the extension module suffix of $PYTHON])
	AS_IF([test -z "$PYTHON_EXT_SUFFIX"], [
		PYTHON_EXT_SUFFIX=`$PYTHON -c '
import sysconfig
print(sysconfig.get_config_var("EXT_SUFFIX") or ".so")' 2>/dev/null`
	])
	AS_IF([test -z "$PYTHON_EXT_SUFFIX"], [PYTHON_EXT_SUFFIX=.so])
	AC_MSG_RESULT([$PYTHON_EXT_SUFFIX])

	AC_SUBST([PYTHON_CFLAGS])
	AC_SUBST([PYTHON_EXT_SUFFIX])
])
