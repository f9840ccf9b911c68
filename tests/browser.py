"""The tests' headless Chromium: course_lib.browser (Debian's chromium driven by chromium-driver,
offline), imported here under the names the browser tests use."""
from course_lib.browser import CHROMEDRIVER, CHROMIUM, console, make_driver, missing, network  # noqa: F401
