"""Key paths of a scenario: dotted overrides, located errors and the messages that name the key.

Every error about a scenario names the path of the bad key, what was expected and what
came::

    scenario 'platform_fall': events[2].at_s must be within [0, duration_s=120]; got 150
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from sim.errors import ScenarioError

from sim.scenario.events import DISTRACTOR_TYPE_NAMES, EVENT_TYPE_NAMES
from sim.scenario.layout import PIECE_NAMES


class LocatedError(ValueError):
    """A check's failure that names the key it is about (``loc``, a path as pydantic gives one).

    Raised inside validators; :func:`format_validation_error` puts the dotted path first."""

    def __init__(self, loc: tuple, msg: str) -> None:
        super().__init__(msg)
        self.loc = loc
        self.msg = msg


def set_dotted(data: dict, dotted: str, value: Any) -> None:
    """Set ``data[a][b][0]...`` for the key ``"a.b.0"`` (list indices as numbers), creating mappings on the way.

    A list index that is not a number or lies outside the list, and a step into a value that
    is neither a mapping nor a list, raise :class:`ScenarioError` naming the key and what is there.
    """
    if not isinstance(dotted, str) or not dotted or "" in dotted.split("."):
        raise ScenarioError(f"override {dotted!r}: expected a dotted key such as render.noise_std or cameras.0.fps")
    keys = dotted.split(".")
    cur: Any = data
    for depth, k in enumerate(keys):
        at = ".".join(keys[:depth]) or "the scenario"
        last = depth == len(keys) - 1
        if isinstance(cur, list):
            if not k.isdigit():
                span = f" in [0, {len(cur) - 1}]" if cur else " (the list is empty)"
                raise ScenarioError(f"override {dotted}: {at} is a list; expected an index{span} instead of {k!r}")
            i = int(k)
            if i >= len(cur):
                items = f"{len(cur)} item{'s' if len(cur) != 1 else ''}"
                raise ScenarioError(f"override {dotted}: index {i} is out of range; {at} has {items}"
                                    + (f" (indices 0 to {len(cur) - 1})" if cur else ""))
            if last:
                cur[i] = value
            else:
                cur = cur[i]
        elif isinstance(cur, dict):
            if last:
                cur[k] = value
            else:
                cur = cur.setdefault(k, {})
        else:
            raise ScenarioError(f"override {dotted}: {at} is {cur!r}, not a mapping or a list; it has no key {k!r}")


def _loc_str(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _lookup(data: Any, loc: tuple) -> Any:
    cur = data
    for part in loc:
        try:
            cur = cur[part]
        except (KeyError, IndexError, TypeError):
            return None
    return cur


#: the tags pydantic inserts into the path of a discriminated union member
_UNION_TAGS = frozenset(EVENT_TYPE_NAMES + DISTRACTOR_TYPE_NAMES + PIECE_NAMES)


def format_validation_error(exc: ValidationError, data: dict, where: str) -> str:
    """One message for all of a validation's errors, each line naming its key path."""
    lines = []
    for err in exc.errors(include_url=False):
        ctx_err = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_err, LocatedError):
            sep = "" if ctx_err.msg.startswith(":") else " "
            lines.append(f"{_loc_str(ctx_err.loc)}{sep}{ctx_err.msg}")
            continue
        # drop the discriminator tag pydantic inserts into union paths (events.0.intrusion.x)
        raw_loc = err["loc"]
        loc = tuple(p for k, p in enumerate(raw_loc)
                    if not (isinstance(p, str) and p in _UNION_TAGS and k > 0 and isinstance(raw_loc[k - 1], int)))
        key = _loc_str(loc)
        etype = err["type"]
        if etype == "extra_forbidden":
            lines.append(f"{key}: unknown key (check the spelling; allowed keys are in the README's scenario format)")
            continue
        if etype == "missing":
            lines.append(f"{key}: missing required key")
            continue
        received = err.get("input", _lookup(data, loc))
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if etype in ("union_tag_invalid", "union_tag_not_found"):
            if loc and loc[0] == "distractors":
                msg = f"must be one of {', '.join(sorted(DISTRACTOR_TYPE_NAMES))}"
            else:
                msg = f"must be one of {', '.join(sorted(EVENT_TYPE_NAMES))}"
            key = f"{key}.type"
            received = (err.get("ctx") or {}).get("tag")
            if received is None:
                lines.append(f"{key}: missing required key; {msg}")
                continue
        if isinstance(received, (dict, list)) and etype == "value_error":
            lines.append(f"{key}: {msg}")  # a whole-object check whose message names the values
        else:
            lines.append(f"{key}: {msg}; got {received!r}" if key else f"{msg}")
    head = f"scenario {where!r}: "
    return head + ("\n  ".join(lines) if len(lines) == 1 else "\n  " + "\n  ".join(lines))
