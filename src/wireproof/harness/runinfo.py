"""What a certification run records about itself: the profile in force, the parameters, the environment.

A report a lab accepts says what was tested and how (issue 10): which device
profile judged the device (a file, with its SHA-256; or the suite's built-in
reference profile, said plainly — a foreign target judged against the
reference device's profile must not look like one judged against its own),
every suite parameter in force (given or default), and the versions of
wireproof, Python, pytest and the platform, with the command line. The
pytest plugin's report writer calls these once, at session end; they read
only the registry and the profile file.
"""

from __future__ import annotations

import hashlib
import platform
import re
import shlex
import sys
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

from wireproof.harness.report.model import ParameterInfo, ProfileInfo
from wireproof.protocol import REGISTRY, SuiteEntry

__all__ = ["environment", "parameter_info", "profile_info", "suite_entry"]


def suite_entry(name: str) -> SuiteEntry | None:
    """The registered suite called ``name``, or None (a plain pytest run of some other test tree)."""
    try:
        return REGISTRY.suite(name)
    except KeyError:
        return None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def profile_info(path: str | None, suite: SuiteEntry | None, *, builtin_target: bool = False) -> ProfileInfo:
    """The profile in force: the file given (hashed as read now), else the suite's built-in default
    (which describes the target when that is the suite's built-in reference device, ``builtin_target``)."""
    if path is not None:
        file = Path(path)
        try:
            digest = _sha256(file.read_bytes())
        except OSError as err:  # it was read at the start of the run; say what happened since
            digest = f"unreadable at the end of the run: {err.strerror or err}"
        return ProfileInfo(source="file", path=str(file.resolve()), sha256=digest)
    if suite is None or not suite.default_profile:
        return ProfileInfo()
    package, _, name = suite.default_profile.partition(":")
    where = resources.files(package) / name
    return ProfileInfo(source="built-in", path=str(where), sha256=_sha256(where.read_bytes()),
                       describes_target=builtin_target)


def parameter_info(suite: SuiteEntry | None, given: Mapping[str, str]) -> tuple[ParameterInfo, ...]:
    """Every parameter of ``suite`` (declared order): the value given, else its default; then any others."""
    out: list[ParameterInfo] = []
    declared = suite.params if suite is not None else ()
    for param in declared:
        default = _default_words(param.help) if param.default is None else str(param.default)
        if param.name in given:
            out.append(ParameterInfo(name=param.name, value=given[param.name], default=default, given=True))
        else:
            value = "" if param.default is None else default
            out.append(ParameterInfo(name=param.name, value=value, default=default, given=False))
    names = {p.name for p in declared}
    out += [ParameterInfo(name=k, value=v, given=True) for k, v in given.items() if k not in names]
    return tuple(out)


def _default_words(help_text: str) -> str:
    """What a parameter without a fixed default falls back to, in its help's words ("the profile's ...")."""
    found = re.search(r"\(default:? ([^)]*)\)", help_text)
    return found.group(1) if found else "not set"


def _version(distribution: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment(argv: Sequence[str] | None = None) -> dict[str, str]:
    """wireproof, Python, pytest and platform versions, and the command line that ran."""
    import wireproof

    args = sys.argv if argv is None else argv
    program = Path(args[0]).name if args else ""
    program = "python -m wireproof" if program == "__main__.py" else program
    command = " ".join([program, shlex.join(args[1:])]).strip() if args else ""
    return {
        "wireproof": wireproof.__version__,
        "python": platform.python_version(),
        "implementation": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "platform": platform.platform(),
        "pytest": _version("pytest"),
        "command": command,
    }
