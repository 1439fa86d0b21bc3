"""Problems a job reports to the runner: a code of core's error tree, a message, details.

The runner turns them into the matching error class (`VALIDATION` a ValidationError…), so a
user sees the same kind of error, naming the same file, row, column and value, on Spark as on
DuckDB.
"""

import re

# A file that is not what it claims to be (a password file) has a "header" that is really
# its content: messages show only names that look like names, at most 20 of them.
NAME_LIKE = re.compile(r"^[^\W\d][\w .-]{0,63}$")
MAX_SHOWN = 20


class JobProblem(Exception):
    """A failure the user can act on, reported with its core error code."""

    def __init__(self, code, message, details=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    def document(self):
        return {"code": self.code, "message": self.message, "details": self.details}


def shown_name(name):
    if NAME_LIKE.match(name or ""):
        return f'"{name}"'
    return f"(a name of {len(name or '')} characters, not shown)"


def column_list(names):
    if not names:
        return "(none)"
    shown = [f'"{name}"' for name in names if name and NAME_LIKE.match(name)][:MAX_SHOWN]
    others = len(names) - len(shown)
    if others == 0:
        return ", ".join(shown)
    rest = f"{others} other column{'' if others == 1 else 's'}"
    return f"{rest} (names not shown)" if not shown else f"{', '.join(shown)} and {rest}"
