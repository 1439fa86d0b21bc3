"""Storage URIs as the job reads and writes them.

`file://` URIs (a path every node of the cluster sees) are read by the Python tasks directly
and written by Spark; the parts are moved into place with plain renames. Spark's own readers
expand glob characters (`*`, `?`, `[…]`, `{…}`) in every path, so a path handed to Spark is
escaped to name exactly one file.
"""

import os
import re
from urllib.parse import unquote, urlparse

from job_problems import JobProblem

PRIVATE_FILE_MODE = 0o600
PRIVATE_FOLDER_MODE = 0o700


def local_path(uri):
    """The local path of a file:// URI; other schemes are not supported yet."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        raise JobProblem(
            "NOT_SUPPORTED",
            f"the spark compute engine reads and writes file:// URIs only so far, not {parsed.scheme}:// ({uri})",
            {"uri": uri, "scheme": parsed.scheme},
        )
    return unquote(parsed.path)


def display_name(uri):
    """The short name users recognize in messages (`transactions.csv`)."""
    return os.path.basename(unquote(urlparse(uri).path).rstrip("/")) or uri


def join_uri(prefix, name):
    return prefix.rstrip("/") + "/" + name


_GLOB = re.compile(r"([\\*?\[\]{}])")


def spark_path(path):
    """A local path as a Spark/Hadoop path that names exactly that file or folder."""
    return "file://" + _GLOB.sub(r"\\\1", path)


class Source:
    """One input file: its URI, local path, short name and role in messages."""

    def __init__(self, uri, role="source"):
        self.uri = uri
        self.path = local_path(uri)
        self.name = display_name(uri)
        self.role = role

    def check_exists(self):
        if not os.path.exists(self.path):
            raise JobProblem(
                "VALIDATION",
                f"{self.role} {self.name} does not exist ({self.uri}): check the path",
                {"file": self.uri},
            )
        if os.path.isdir(self.path):
            raise JobProblem(
                "VALIDATION",
                f"{self.role} {self.name} is a folder ({self.uri}): list the files in it",
                {"file": self.uri},
            )
        if os.path.getsize(self.path) == 0:
            raise JobProblem(
                "VALIDATION",
                f"{self.role} {self.name} is empty ({self.uri}): it has no header and no rows; remove it or fill it",
                {"file": self.uri},
            )

    def as_dict(self):
        return {"uri": self.uri, "path": self.path, "name": self.name, "role": self.role}


class SourceRef:
    """A Source rebuilt inside a task from its dict."""

    def __init__(self, values):
        self.uri = values["uri"]
        self.path = values["path"]
        self.name = values["name"]
        self.role = values["role"]


def make_private_folder(path):
    """Creates a folder and its parents (0700: outputs hold feature data); the created top."""
    created = None
    missing = []
    current = path
    while not os.path.exists(current):
        missing.append(current)
        current = os.path.dirname(current)
    for folder in reversed(missing):
        os.makedirs(folder, mode=PRIVATE_FOLDER_MODE, exist_ok=True)
        created = created or folder
    return created


def spark_files(folder, suffix):
    """The data files Spark wrote in a folder (`part-00003-….parquet`), by partition number."""
    found = {}
    for name in os.listdir(folder):
        match = re.match(r"part-(\d+)-.*" + re.escape(suffix) + r"$", name)
        if match:
            found[int(match[1])] = os.path.join(folder, name)
    return found
