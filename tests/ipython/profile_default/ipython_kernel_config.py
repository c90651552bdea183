# Kernels started by the test suite (IPYTHONDIR=tests/ipython, set by the Makefile) log errors
# only, so that no kernel log line lands in a notebook cell's compared output.
c = get_config()  # noqa: F821 - provided by IPython when it loads this file
c.IPKernelApp.log_level = "ERROR"
