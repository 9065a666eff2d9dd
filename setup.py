"""Build hook for the optional C pre-filter; all other metadata lives in pyproject.toml."""

from setuptools import Extension, setup

# optional=True: without a C compiler the package still installs and the scan uses the engine alone.
setup(ext_modules=[Extension("planner.sources._prefilter", ["planner/sources/_prefilter.c"], optional=True,
                             extra_compile_args=["-O3", "-Wall", "-Wextra", "-Wno-unused-parameter"])])
