"""Key paths of a scenario: dotted overrides, located errors and the messages that name the key.

Every error about a scenario names the path of the bad key, what was expected and what
came::

    scenario 'platform_fall': events[2].at_s must be within [0, duration_s=120]; got 150
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

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
    """Set ``data[a][b][0]...`` for the key ``"a.b.0"`` (list indices as numbers), creating mappings on the way."""
    keys = dotted.split(".")
    cur: Any = data
    for k in keys[:-1]:
        if isinstance(cur, list):
            cur = cur[int(k)]
        else:
            cur = cur.setdefault(k, {})
    last = keys[-1]
    if isinstance(cur, list):
        cur[int(last)] = value
    else:
        cur[last] = value


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
