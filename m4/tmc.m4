# SPDX-License-Identifier: MIT
# Project macros for configure.ac.

# TMC_CHECK_CFLAG(FLAG, ACTION-IF-OK)
# Run ACTION-IF-OK when the C compiler accepts FLAG with -Werror.
AC_DEFUN([TMC_CHECK_CFLAG], [
	AS_VAR_PUSHDEF([tmc_var], [tmc_cv_cflag_$1])
	AC_CACHE_CHECK([whether $CC accepts $1], [tmc_var], [
		tmc_save_CFLAGS=$CFLAGS
		CFLAGS="$CFLAGS -Werror $1"
		AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
			[AS_VAR_SET([tmc_var], [yes])],
			[AS_VAR_SET([tmc_var], [no])])
		CFLAGS=$tmc_save_CFLAGS])
	AS_VAR_IF([tmc_var], [yes], [$2])
	AS_VAR_POPDEF([tmc_var])
])

# TMC_FIND_PYTHON(MODULES)
# Unless PYTHON is set, set it to the first Python 3 interpreter that can
# import every module in MODULES (space-separated), trying the python3 on
# PATH first and then the system's /usr/bin/python3. If none can, keep the
# first one found and warn: the Python tests will then report what is
# missing. Sets tmc_python_has to what the chosen one can import.
AC_DEFUN([TMC_FIND_PYTHON], [
	tmc_python_has=""
	AS_IF([test -z "$PYTHON"], [
		tmc_first=""
		for tmc_py in python3 /usr/bin/python3 /usr/local/bin/python3 python; do
			tmc_path=$tmc_py
			AS_CASE([$tmc_py], [/*], [test -x "$tmc_py" || continue],
				[tmc_path=`command -v $tmc_py 2>/dev/null` || continue])
			test -n "$tmc_path" || continue
			"$tmc_path" -c 'import sys; sys.exit(sys.version_info < (3, 8))' 2>/dev/null || continue
			test -n "$tmc_first" || tmc_first=$tmc_path
			AC_MSG_CHECKING([whether $tmc_path can import $1])
			tmc_ok=yes
			for tmc_mod in $1; do
				"$tmc_path" -c "import $tmc_mod" 2>/dev/null || tmc_ok=no
			done
			AC_MSG_RESULT([$tmc_ok])
			AS_IF([test "x$tmc_ok" = xyes], [PYTHON=$tmc_path; break])
		done
		AS_IF([test -z "$PYTHON" && test -n "$tmc_first"], [
			PYTHON=$tmc_first
			AC_MSG_WARN([no Python 3 here can import $1; using $PYTHON: the Python tests will fail until they are installed (Debian: python3-pytest python3-redis)])
		])
	])
	AS_IF([test -n "$PYTHON"], [
		for tmc_mod in $1 hiredis; do
			"$PYTHON" -c "import $tmc_mod" 2>/dev/null && tmc_python_has="$tmc_python_has $tmc_mod"
		done
	])
	AC_ARG_VAR([PYTHON], [the Python 3 interpreter for the package and its tests])
])
