"""What every official-SDK client script here shares: counted checks and a result's text."""

import sys


class Checks:
    """Counts passed and failed checks; a failure is printed with its detail."""

    def __init__(self, prefix=""):
        self.passed = 0
        self.failed = 0
        self.prefix = prefix

    def check(self, name, condition, detail=""):
        if condition:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {self.prefix}{name}: {detail}", file=sys.stderr)

    def summary(self, label):
        """The line the Rust tests look for: `LABEL: N passed, M failed`."""
        return f"{label}: {self.passed} passed, {self.failed} failed"


def text_of(result):
    return "".join(getattr(c, "text", "") for c in result.content)
